"""The long page header that starts every segment."""

from __future__ import annotations

from cnpg_wal_replica.archive.headers import (
    LONG_PAGE_HEADER_SIZE,
    XLP_LONG_HEADER,
    LongPageHeader,
    parse_long_page_header,
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
