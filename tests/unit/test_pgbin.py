"""Finding PostgreSQL's programs where Debian installs them, newest major first."""

from __future__ import annotations

from pathlib import Path

from cnpg_wal_replica.pgbin import newest_program


def install(root: Path, major: str, name: str) -> Path:
    path = root / major / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def test_the_highest_major_wins_by_number_not_by_name(tmp_path: Path) -> None:
    install(tmp_path, "9", "pg_receivewal")
    newest = install(tmp_path, "16", "pg_receivewal")
    install(tmp_path, "15", "pg_receivewal")
    install(tmp_path, "17", "postgres")  # another program only
    install(tmp_path, "common", "pg_receivewal")  # not a major
    assert newest_program("pg_receivewal", tmp_path) == newest


def test_none_when_no_major_has_it(tmp_path: Path) -> None:
    install(tmp_path, "15", "postgres")
    assert newest_program("pg_receivewal", tmp_path) is None
    assert newest_program("postgres", tmp_path / "missing") is None
