"""File operations before a start: sniffing a foreign WAL directory, moving files aside;
the recorded gaps' newest time."""

from __future__ import annotations

import gzip
from pathlib import Path

from cnpg_wal_replica.archive.headers import XLP_LONG_HEADER, LongPageHeader
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.state import DIVERGED_DIR, ArchiveState, Gap
from cnpg_wal_replica.receiver.preparing import (
    create_empty,
    move_aside,
    newest_gap_time,
    sniff_system_identifier,
)

MIB = 2**20


def header(sysid: int) -> bytes:
    return LongPageHeader(0xD110, XLP_LONG_HEADER, 1, 0, 0, sysid, MIB, 8192).pack()


def test_sniffs_plain_and_gzip_segments(tmp_path: Path) -> None:
    assert sniff_system_identifier(list_archive(tmp_path, MIB)) is None
    (tmp_path / "000000010000000000000003.gz").write_bytes(gzip.compress(header(77)))
    assert sniff_system_identifier(list_archive(tmp_path, MIB)) == "77"
    (tmp_path / "000000010000000000000002").write_bytes(header(42).ljust(MIB, b"\0"))
    assert sniff_system_identifier(list_archive(tmp_path, MIB)) == "42"


def test_sniff_skips_empty_partials(tmp_path: Path) -> None:
    (tmp_path / "000000010000000000000002.partial").write_bytes(b"")
    assert sniff_system_identifier(list_archive(tmp_path, MIB)) is None


def test_move_aside_never_overwrites(tmp_path: Path) -> None:
    first = tmp_path / "000000010000000000000004"
    first.write_bytes(b"one")
    moved = move_aside(tmp_path, (first,))
    assert moved == [tmp_path / DIVERGED_DIR / first.name]
    first.write_bytes(b"two")
    again = move_aside(tmp_path, (first,))
    assert again == [tmp_path / DIVERGED_DIR / (first.name + ".1")]
    assert moved[0].read_bytes() == b"one"
    assert again[0].read_bytes() == b"two"
    assert not first.exists()


def test_create_empty_partial(tmp_path: Path) -> None:
    create_empty(tmp_path, "000000020000000000000003.partial")
    assert (tmp_path / "000000020000000000000003.partial").stat().st_size == 0


def test_the_newest_gap_time_is_what_the_alert_reads() -> None:
    def gap(recorded_at: str) -> Gap:
        return Gap(0, 2**24, 1, "slot invalidated", recorded_at)

    assert newest_gap_time(ArchiveState()) == 0
    saved = ArchiveState(
        "1",
        1,
        2**24,
        (gap("2026-01-01T00:00:00+00:00"), gap("2026-01-02T00:00:00+00:00"), gap("edited")),
    )
    assert newest_gap_time(saved) == 1767312000  # 2026-01-02T00:00:00Z
