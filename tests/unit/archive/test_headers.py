"""The long page header that starts every segment, and reading it from a file."""

from __future__ import annotations

import gzip
from pathlib import Path

from cnpg_wal_replica.archive.headers import (
    LONG_PAGE_HEADER_SIZE,
    XLP_LONG_HEADER,
    LongPageHeader,
    parse_long_page_header,
    read_long_header,
)

MIB = 1024 * 1024


def test_long_page_header_round_trip_and_layout() -> None:
    header = LongPageHeader(
        magic=0xD110,
        info=XLP_LONG_HEADER,
        timeline=2,
        page_address=0x5000000,
        remaining_length=0,
        system_identifier=7301234567890123456,
        segment_size=MIB,
        block_size=8192,
    )
    raw = header.pack()
    assert len(raw) == LONG_PAGE_HEADER_SIZE
    assert raw[:2] == b"\x10\xd1"  # little-endian magic
    assert raw[20:24] == b"\0\0\0\0"  # padding before the system identifier
    assert int.from_bytes(raw[24:32], "little") == 7301234567890123456
    parsed = parse_long_page_header(raw + b"rest of the page")
    assert parsed == header
    assert parsed is not None
    assert parsed.is_long


def test_long_page_header_absent_when_short_or_zero() -> None:
    assert parse_long_page_header(b"\x10\xd1") is None
    assert parse_long_page_header(bytes(8192)) is None


def test_read_long_header_from_plain_and_gzip_files(tmp_path: Path) -> None:
    header = LongPageHeader(0xD110, XLP_LONG_HEADER, 1, 0, 0, 42, MIB, 8192)
    plain = tmp_path / "000000010000000000000000"
    plain.write_bytes(header.pack().ljust(MIB, b"\0"))
    packed = tmp_path / "000000010000000000000000.gz"
    packed.write_bytes(gzip.compress(header.pack()))
    assert read_long_header(plain, None) == header
    assert read_long_header(packed, "gzip") == header


def test_read_long_header_is_none_when_it_cannot_be_read(tmp_path: Path) -> None:
    header = LongPageHeader(0xD110, XLP_LONG_HEADER, 1, 0, 0, 42, MIB, 8192).pack()
    (tmp_path / "lz4").write_bytes(header)  # never decompressed here, whatever it holds
    (tmp_path / "corrupt.gz").write_bytes(gzip.compress(header)[:-12] + b"garbage")
    (tmp_path / "zeros").write_bytes(bytes(MIB))
    (tmp_path / "empty").write_bytes(b"")
    assert read_long_header(tmp_path / "lz4", "lz4") is None
    assert read_long_header(tmp_path / "corrupt.gz", "gzip") is None
    assert read_long_header(tmp_path / "zeros", None) is None
    assert read_long_header(tmp_path / "empty", None) is None
    assert read_long_header(tmp_path / "missing", None) is None
