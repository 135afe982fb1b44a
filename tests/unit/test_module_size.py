"""Every hand-written module in src/ stays under 300 lines (the generated `_pb/` aside).

Past that size a module usually does more than one job: split it along its seams (see
../shared/house.md for how the field's best codebases keep theirs small).
"""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
LIMIT = 300
GENERATED = "_pb"


def oversized(root: Path, limit: int = LIMIT) -> list[str]:
    """``path: N lines`` for each hand-written module under ``root`` of ``limit`` lines or more."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if GENERATED in path.relative_to(root).parts:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines >= limit:
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_every_hand_written_module_is_under_300_lines() -> None:
    assert list(SRC.rglob("*.py")), f"no modules under {SRC}"
    assert oversized(SRC) == [], f"split these modules (limit {LIMIT} lines)"


def test_the_check_names_the_file_and_its_length_and_skips_generated_code(
    tmp_path: Path,
) -> None:
    package = tmp_path / "pkg"
    (package / GENERATED).mkdir(parents=True)
    (package / "small.py").write_text("x = 1\n" * (LIMIT - 1))
    (package / "big.py").write_text("x = 1\n" * LIMIT)
    (package / GENERATED / "stubs_pb2.py").write_text("x = 1\n" * 2 * LIMIT)
    assert oversized(tmp_path) == [f"pkg/big.py: {LIMIT} lines"]
