"""list_archive: what a pg_receivewal directory holds, classified."""

from __future__ import annotations

import os
from pathlib import Path

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName
from cnpg_wal_replica.archive.state import DIVERGED_DIR, STATE_FILE, ArchiveState, save_state

MIB = 1024 * 1024


def touch(directory: Path, name: str, size: int = 10, mtime: float | None = None) -> Path:
    path = directory / name
    path.write_bytes(b"x" * size)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_classifies_every_kind_of_file(tmp_path: Path) -> None:
    touch(tmp_path, "000000010000000000000002", size=100, mtime=1000.0)
    touch(tmp_path, "000000010000000000000001.gz", size=30)
    touch(tmp_path, "000000020000000000000003.lz4")
    touch(tmp_path, "000000020000000000000004.partial", size=7)
    touch(tmp_path, "000000020000000000000004.gz.partial")
    touch(tmp_path, "000000010000000000000003.lz4.partial")
    touch(tmp_path, "00000002.history", size=40)
    touch(tmp_path, "00000003.history.tmp")
    touch(tmp_path, "notes.txt")
    touch(tmp_path, "000000010000000000000002.zst")

    listing = list_archive(tmp_path, MIB)

    assert listing.directory == tmp_path
    assert listing.segment_size == MIB
    assert [(s.name, s.compression) for s in listing.segments] == [
        ("000000010000000000000001.gz", "gzip"),
        ("000000010000000000000002", None),
        ("000000020000000000000003.lz4", "lz4"),
    ]
    assert all(not s.partial for s in listing.segments)
    plain = listing.segments[1]
    assert plain.segment == SegmentName(1, 2)
    assert plain.size == 100
    assert plain.mtime == 1000.0
    assert plain.path == tmp_path / "000000010000000000000002"
    assert [(p.name, p.compression) for p in listing.partials] == [
        ("000000010000000000000003.lz4.partial", "lz4"),
        ("000000020000000000000004.gz.partial", "gzip"),
        ("000000020000000000000004.partial", None),
    ]
    assert all(p.partial for p in listing.partials)
    assert [(h.timeline, h.size) for h in listing.histories] == [(2, 40)]
    assert [o.path.name for o in listing.unknown] == [
        "000000010000000000000002.zst",
        "00000003.history.tmp",
        "notes.txt",
    ]
    assert listing.newest_segment is not None
    assert listing.newest_segment.name == "000000020000000000000003.lz4"
    assert listing.wal_bytes == 30 + 100 + 10 + 7 + 10 + 10 + 40
    assert listing.total_bytes == listing.wal_bytes + 30


def test_state_file_and_diverged_directory_are_not_part_of_the_archive(tmp_path: Path) -> None:
    save_state(tmp_path, ArchiveState(system_identifier="1", timeline=1))
    diverged = tmp_path / DIVERGED_DIR
    diverged.mkdir()
    touch(diverged, "000000010000000000000009")
    touch(tmp_path, "000000010000000000000001")

    listing = list_archive(tmp_path, MIB)

    assert [s.name for s in listing.segments] == ["000000010000000000000001"]
    assert listing.unknown == ()
    assert listing.partials == ()
    assert (tmp_path / STATE_FILE).exists()  # listing never deletes


def test_other_directories_are_listed_as_unknown(tmp_path: Path) -> None:
    (tmp_path / "lost+found").mkdir()
    (tmp_path / "000000010000000000000001").mkdir()  # a directory is never a segment
    listing = list_archive(tmp_path, MIB)
    assert sorted(o.path.name for o in listing.unknown) == [
        "000000010000000000000001",
        "lost+found",
    ]
    assert listing.segments == ()


def test_names_are_parsed_with_the_segment_size(tmp_path: Path) -> None:
    # with 16 MiB segments the last part stops at 0xFF; with 1 MiB at 0xFFF
    touch(tmp_path, "000000010000000000000100")
    assert [s.segment.segno for s in list_archive(tmp_path, MIB).segments] == [0x100]
    assert [o.path.name for o in list_archive(tmp_path, 16 * MIB).unknown] == [
        "000000010000000000000100"
    ]


def test_wal_order_sorts_by_segment_then_timeline(tmp_path: Path) -> None:
    for name in [
        "000000020000000000000005",
        "000000010000000000000005",
        "000000010000000000000004",
        "000000020000000000000006",
    ]:
        touch(tmp_path, name)
    names = [s.name for s in list_archive(tmp_path, MIB).segments]
    assert names == [
        "000000010000000000000004",
        "000000010000000000000005",
        "000000020000000000000005",
        "000000020000000000000006",
    ]


def test_empty_directory(tmp_path: Path) -> None:
    listing = list_archive(tmp_path, MIB)
    assert listing.segments == listing.partials == listing.histories == listing.unknown == ()
    assert listing.newest_segment is None
    assert listing.total_bytes == 0
