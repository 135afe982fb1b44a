""".pre-commit-config.yaml runs the linters `make lint` runs, offline (local hooks, uv)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNNER = "uv run --frozen"


def lint_recipe() -> list[list[str]]:
    """The commands of the Makefile's lint target, $(UV) spelt out."""
    makefile = (ROOT / "Makefile").read_text()
    (uv,) = re.findall(r"^UV := (.*)$", makefile, flags=re.M)
    assert uv.endswith(RUNNER)
    (body,) = re.findall(r"^lint:\n((?:\t.*\n)+)", makefile, flags=re.M)
    return [shlex.split(line.strip().replace("$(UV)", RUNNER)) for line in body.splitlines()]


def hooks() -> list[dict[str, object]]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = config["repos"]
    assert repo["repo"] == "local", "no hook is fetched from the network"
    found: list[dict[str, object]] = repo["hooks"]
    return found


def tool(command: list[str]) -> str:
    """What a command runs: `ruff check`, `ruff format`, `mypy`, `lint-imports`."""
    words = command[len(RUNNER.split()) :]
    return " ".join(words[:2]) if words[0] == "ruff" else words[0]


def test_the_hooks_run_every_lint_command_and_nothing_else() -> None:
    recipe = lint_recipe()
    entries = [shlex.split(str(hook["entry"])) for hook in hooks()]
    assert all(entry[:3] == RUNNER.split() for entry in entries)
    assert sorted(map(tool, entries)) == sorted(map(tool, recipe))
    assert len(recipe) == 4
    (format_entry,) = [e for e in entries if tool(e) == "ruff format"]
    assert "--check" in format_entry, "a hook checks; it never rewrites files"


def test_every_hook_uses_the_locked_environment() -> None:
    for hook in hooks():
        assert hook["language"] == "system", hook["id"]


def test_whole_project_checks_do_not_take_file_names() -> None:
    by_id = {hook["id"]: hook for hook in hooks()}
    assert by_id["mypy"]["pass_filenames"] is False
    assert by_id["lint-imports"]["pass_filenames"] is False
    assert by_id["ruff-format"]["files"] == "^src/", "make lint formats only src"
