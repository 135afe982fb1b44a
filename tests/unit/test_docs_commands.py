"""Commands the Markdown pages show work as written: `make` targets exist, and every
`cnpg-wal-replica` command line names a real subcommand and real options, run in a way that
finds the program (`uv run` in a checkout, `kubectl exec` in the image); the bench's
quick run leaves the committed results alone."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from support.documented import PAGES

from cnpg_wal_replica.cli import main

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
TARGETS = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
RUNNERS = ("uv run --frozen ", "uv run ", "-- ", "python -m cnpg_wal_replica ")


def code_lines(text: str) -> list[str]:
    """Lines of fenced blocks, and inline code spans that run something (`uv run …`,
    `kubectl …`, `make …`): a span such as `cnpg-wal-replica verify` only names the tool."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    spans = INLINE.findall(FENCE.sub("", text))
    return lines + [s for s in spans if s.startswith(("uv run", "kubectl", "make "))]


def ids(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_every_make_target_named_exists(page: Path) -> None:
    named = {
        target
        for line in code_lines(page.read_text())
        for target in re.findall(r"(?:^|[\s;(&|])make ([a-z][\w-]*)", line)
    }
    assert named <= TARGETS, f"{ids(page)}: no such make target {sorted(named - TARGETS)}"


def commands(page: Path) -> list[str]:
    """`cnpg-wal-replica …` invocations: from the program name to the end of the line."""
    found = []
    for line in code_lines(page.read_text()):
        line = line.split(" #")[0].strip()
        match = re.search(r"(?:^|\s)(cnpg-wal-replica(?: [^|;&]*)?)$", line)
        if match and not match.group(1).startswith("cnpg-wal-replica:"):
            found.append(line)
    return found


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_every_command_line_works_as_written(page: Path) -> None:
    assert isinstance(main, click.Group)
    context = click.Context(main)
    problems = []
    for line in commands(page):
        start = line.index("cnpg-wal-replica")
        before = line[:start]
        if before.strip() and not before.endswith(RUNNERS):
            continue  # part of a longer text, e.g. a path, a log line, a helm release name
        words = shlex.split(re.sub(r"[\[\]]", " ", line[start:]).replace("…", "x"))
        if len(words) == 1:
            continue  # the program's name, not a command line
        if not before.strip():
            problems.append(
                f"{line!r}: not on PATH outside the image; use `uv run` or kubectl exec"
            )
        if words[1] in ("--help", "--version"):
            continue
        sub = main.get_command(context, words[1])
        if sub is None:
            problems.append(f"{line!r}: no subcommand {words[1]!r}")
            continue
        known = options_of(sub) | {"--help"}
        unknown = [w.split("=")[0] for w in words[2:] if w.startswith("--")]
        problems += [f"{line!r}: {sub.name} has no option {w}" for w in unknown if w not in known]
    assert not problems, f"{ids(page)}: {problems}"


def test_the_check_catches_a_bare_command_and_a_wrong_option(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "```sh\ncnpg-wal-replica render x.yaml\n```\n`uv run cnpg-wal-replica verify --nope d`\n"
    )
    with pytest.raises(AssertionError, match=r"not on PATH.*no option --nope"):
        test_every_command_line_works_as_written(page)


def test_a_quick_bench_run_does_not_overwrite_the_committed_results() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run as bench_run  # bench/run.py
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert bench_run.parse_args([]).output_dir == ROOT / "bench" / "results"
    quick = bench_run.parse_args(["--quick"]).output_dir
    assert quick != ROOT / "bench" / "results"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(quick / "latest.json")], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, f"{quick} is not ignored by git"
