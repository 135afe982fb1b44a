"""WAL names, LSN arithmetic, history files and the long page header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnpg_wal_replica import wal

MIB = 1024 * 1024


def test_lsn_round_trip_as_postgres_prints_it() -> None:
    assert wal.parse_lsn("0/3000060") == 0x3000060
    assert wal.parse_lsn("1A/B") == (0x1A << 32) | 0xB
    assert wal.format_lsn(0x3000060) == "0/3000060"
    assert wal.format_lsn((0x1A << 32) | 0xB) == "1A/B"


@pytest.mark.parametrize("text", ["", "3000060", "0/", "/1", "0/123456789", "x/1"])
def test_parse_lsn_rejects_non_lsns(text: str) -> None:
    with pytest.raises(ValueError, match="not an LSN"):
        wal.parse_lsn(text)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_format_then_parse_is_identity(lsn: int) -> None:
    assert wal.parse_lsn(wal.format_lsn(lsn)) == lsn


def test_segment_names_depend_on_segment_size() -> None:
    assert wal.SegmentName(1, 3).name() == "000000010000000000000003"
    # 1 MiB segments: 4096 per xlogid, so segment 4097 is log 1, seg 1
    assert wal.SegmentName(2, 4097).name(MIB) == "000000020000000100000001"
    assert wal.parse_segment_name("000000020000000100000001", MIB) == wal.SegmentName(2, 4097)
    assert wal.SegmentName(1, 3).start_lsn(MIB) == 3 * MIB
    assert wal.SegmentName(1, 3).end_lsn(MIB) == 4 * MIB


@pytest.mark.parametrize(
    "name",
    [
        "00000001000000000000003",  # 23 digits
        "0000000100000000000000030",
        "00000001000000000000000g",
        "000000010000000000000003.partial",
        "000000010000000000000100",  # seg part >= 256 for 16 MiB segments
    ],
)
def test_parse_segment_name_rejects_other_names(name: str) -> None:
    assert wal.parse_segment_name(name) is None


@given(
    st.integers(min_value=1, max_value=2**32 - 1),
    st.sampled_from([MIB, 16 * MIB, 1024 * MIB]),
    st.data(),
)
def test_segment_name_round_trip(timeline: int, size: int, data: st.DataObject) -> None:
    segno = data.draw(st.integers(min_value=0, max_value=2**64 // size - 1))
    segment = wal.SegmentName(timeline, segno)
    assert wal.parse_segment_name(segment.name(size), size) == segment
    assert wal.segment_for_lsn(timeline, segment.start_lsn(size), size) == segment
    assert wal.segment_for_lsn(timeline, segment.end_lsn(size) - 1, size) == segment


def test_history_file_names() -> None:
    assert wal.history_name(2) == "00000002.history"
    assert wal.parse_history_name("0000000A.history") == 10
    assert wal.parse_history_name("00000002.history.tmp") is None


HISTORY = "1\t0/5000060\tno recovery target specified\n\n2\t0/9A000A0\tpromoted\n"


def test_parse_history_and_find_timeline_of_an_lsn() -> None:
    switches = wal.parse_history(HISTORY)
    assert switches == (
        wal.TimelineSwitch(1, 0x5000060, "no recovery target specified"),
        wal.TimelineSwitch(2, 0x9A000A0, "promoted"),
    )
    assert wal.timeline_of_lsn(switches, 3, 0x5000000) == 1
    assert wal.timeline_of_lsn(switches, 3, 0x5000060) == 2
    assert wal.timeline_of_lsn(switches, 3, 0x9A000A0) == 3


def test_parse_history_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        wal.parse_history("1\t0/5000060\tok\nbroken\n")


def test_long_page_header_round_trip_and_layout() -> None:
    header = wal.LongPageHeader(
        magic=0xD110,
        info=wal.XLP_LONG_HEADER,
        timeline=2,
        page_address=0x5000000,
        remaining_length=0,
        system_identifier=7301234567890123456,
        segment_size=MIB,
        block_size=8192,
    )
    raw = header.pack()
    assert len(raw) == wal.LONG_PAGE_HEADER_SIZE
    assert raw[:2] == b"\x10\xd1"  # little-endian magic
    assert raw[20:24] == b"\0\0\0\0"  # padding before the system identifier
    assert int.from_bytes(raw[24:32], "little") == 7301234567890123456
    parsed = wal.parse_long_page_header(raw + b"rest of the page")
    assert parsed == header
    assert parsed is not None
    assert parsed.is_long


def test_long_page_header_absent_when_short_or_zero() -> None:
    assert wal.parse_long_page_header(b"\x10\xd1") is None
    assert wal.parse_long_page_header(bytes(8192)) is None
