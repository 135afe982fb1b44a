"""The partial segment: how far its written part goes, and padding one left short."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.partial import pad_short_partials, written_bytes

MIB = 2**20
PAGE = 8192


def partial(path: Path, written_pages: int, pages: int = MIB // PAGE) -> Path:
    data = bytearray(pages * PAGE)
    for page in range(written_pages):
        data[page * PAGE : page * PAGE + 2] = b"\x10\xd1"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("written", [1, 2, 3, 64, 127, 128])
def test_written_bytes_ends_at_the_last_page_with_a_header(tmp_path: Path, written: int) -> None:
    path = partial(tmp_path / "000000010000000000000001.partial", written)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert written_bytes(fd, PAGE) == written * PAGE
    finally:
        os.close(fd)


def test_written_bytes_of_an_empty_file_is_zero(tmp_path: Path) -> None:
    path = tmp_path / "000000010000000000000001.partial"
    path.write_bytes(b"")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert written_bytes(fd, PAGE) == 0
    finally:
        os.close(fd)


def test_short_plain_partials_are_padded_with_zeros(tmp_path: Path) -> None:
    short = tmp_path / "000000010000000000000002.partial"
    short.write_bytes(b"wal")
    (tmp_path / "000000010000000000000003.partial").write_bytes(b"")  # not started: kept
    (tmp_path / "000000010000000000000004.gz.partial").write_bytes(b"gz")  # compressed: kept
    (tmp_path / "000000010000000000000001").write_bytes(b"s")  # complete segments: kept

    assert pad_short_partials(list_archive(tmp_path, MIB)) == [(short.name, 3)]

    assert short.read_bytes() == b"wal" + bytes(MIB - 3)
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert sizes["000000010000000000000003.partial"] == 0
    assert sizes["000000010000000000000004.gz.partial"] == 2
    assert sizes["000000010000000000000001"] == 1
    assert pad_short_partials(list_archive(tmp_path, MIB)) == []
