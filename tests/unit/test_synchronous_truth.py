"""One truth about `synchronous`: the receiver always flushes promptly; the parameter only
selects what the plugin checks. The texts that say so come from `metadata`, and no page
may claim again that the parameter turns prompt flushing on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnpg_wal_replica.cli import main
from cnpg_wal_replica.metadata import RECEIVER_FLUSH, SYNCHRONOUS_RULE
from cnpg_wal_replica.parameters import BY_NAME
from cnpg_wal_replica.receiver.command import receivewal_argv
from cnpg_wal_replica.receiver.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
TEXTS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").glob("*.yaml")]
)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    "settings",
    [{}, {"compression": "gzip:5", "verbose": True}, {"retention_max_age": "7d"}],
)
def test_the_receiver_always_flushes_promptly(
    settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "HOST": "pg-rw",
        "APPLICATION_NAME": "pg-wal-receiver",
        "WAL_DIRECTORY": "/wal",
        "PG_RECEIVEWAL": "/usr/bin/pg_receivewal",
    }.items():
        monkeypatch.setenv("WAL_RECEIVER_" + name, value)
    assert "--synchronous" in receivewal_argv(load_settings(settings))
    assert "pg_receivewal always runs with --synchronous" in RECEIVER_FLUSH


def test_receive_help_says_what_the_receiver_does_and_has_no_synchronous_switch() -> None:
    result = CliRunner().invoke(main, ["receive", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert flat(RECEIVER_FLUSH) in flat(result.output)
    assert "--synchronous" not in result.output.replace(RECEIVER_FLUSH, "")


def test_the_parameter_rule_is_the_one_text() -> None:
    assert BY_NAME["synchronous"].rule == SYNCHRONOUS_RULE
    assert RECEIVER_FLUSH in SYNCHRONOUS_RULE
    assert SYNCHRONOUS_RULE in (ROOT / "docs" / "parameters.md").read_text()


def sentences(text: str) -> list[str]:
    """Table rows whole; prose (YAML comments included) split into sentences and items."""
    rows = re.findall(r"^\|.*\|$", text, flags=re.M)
    prose = re.sub(r"^\|.*\|$", "", text, flags=re.M)
    prose = re.sub(r"^\s*#\s?", "", prose, flags=re.M)
    parts = re.split(r"(?<=[.;])\s+|\n\s*\n|\n\s*[-*]\s|\n\d+\.\s", prose)
    return rows + [s for s in parts if s.strip()]


PARAMETER = re.compile(r"synchronous: (`?)active|`synchronous`|synchronous is (in)?active")
CLAIM = re.compile(r"flush|--synchronous|segment end", re.I)
DENIAL = re.compile(
    r"either way|changes nothing|does not change|not how the receiver|always|"
    r"whether or not|never edits",
    re.I,
)


@pytest.mark.parametrize("page", TEXTS, ids=lambda p: p.name)
def test_no_text_says_the_parameter_turns_flushing_on(page: Path) -> None:
    wrong = [
        flat(s)
        for s in sentences(page.read_text())
        if PARAMETER.search(s) and CLAIM.search(s) and not DENIAL.search(s)
    ]
    assert not wrong, f"{page.name} ties prompt flushing to the synchronous parameter: {wrong}"


@pytest.mark.parametrize(
    "old",
    [
        "1. set the plugin parameter `synchronous: active`, which runs "
        "`pg_receivewal --synchronous`\n   (it flushes every write)",
        "| `synchronous` | inactive | active or inactive (any case); active makes every "
        "write flushed at once | `active` | yes |",
        "# - synchronous: active makes pg_receivewal flush and report every write at once",
    ],
)
def test_the_check_catches_the_old_wording(old: str) -> None:
    assert any(
        PARAMETER.search(s) and CLAIM.search(s) and not DENIAL.search(s) for s in sentences(old)
    )
