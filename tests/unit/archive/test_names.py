"""WAL names and LSN arithmetic: LSNs, segment sizes, segment and history file names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnpg_wal_replica.archive.names import (
    SegmentName,
    classify_segment_name,
    format_lsn,
    history_name,
    is_valid_segment_size,
    parse_history_name,
    parse_lsn,
    parse_segment_name,
    segment_for_lsn,
)

MIB = 1024 * 1024


def test_lsn_round_trip_as_postgres_prints_it() -> None:
    assert parse_lsn("0/3000060") == 0x3000060
    assert parse_lsn("1A/B") == (0x1A << 32) | 0xB
    assert format_lsn(0x3000060) == "0/3000060"
    assert format_lsn((0x1A << 32) | 0xB) == "1A/B"


@pytest.mark.parametrize("text", ["", "3000060", "0/", "/1", "0/123456789", "x/1"])
def test_parse_lsn_rejects_non_lsns(text: str) -> None:
    with pytest.raises(ValueError, match="not an LSN"):
        parse_lsn(text)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_format_then_parse_is_identity(lsn: int) -> None:
    assert parse_lsn(format_lsn(lsn)) == lsn


def test_segment_names_depend_on_segment_size() -> None:
    assert SegmentName(1, 3).name() == "000000010000000000000003"
    # 1 MiB segments: 4096 per xlogid, so segment 4097 is log 1, seg 1
    assert SegmentName(2, 4097).name(MIB) == "000000020000000100000001"
    assert parse_segment_name("000000020000000100000001", MIB) == SegmentName(2, 4097)
    assert SegmentName(1, 3).start_lsn(MIB) == 3 * MIB
    assert SegmentName(1, 3).end_lsn(MIB) == 4 * MIB


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
    assert parse_segment_name(name) is None


@given(
    st.integers(min_value=1, max_value=2**32 - 1),
    st.sampled_from([MIB, 16 * MIB, 1024 * MIB]),
    st.data(),
)
def test_segment_name_round_trip(timeline: int, size: int, data: st.DataObject) -> None:
    segno = data.draw(st.integers(min_value=0, max_value=2**64 // size - 1))
    segment = SegmentName(timeline, segno)
    assert parse_segment_name(segment.name(size), size) == segment
    assert segment_for_lsn(timeline, segment.start_lsn(size), size) == segment
    assert segment_for_lsn(timeline, segment.end_lsn(size) - 1, size) == segment


def test_history_file_names() -> None:
    assert history_name(2) == "00000002.history"
    assert parse_history_name("0000000A.history") == 10
    assert parse_history_name("00000002.history.tmp") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000000010000000000000003", (SegmentName(1, 3), None, False)),
        ("000000010000000000000003.gz", (SegmentName(1, 3), "gzip", False)),
        ("000000010000000000000003.lz4.partial", (SegmentName(1, 3), "lz4", True)),
        ("000000010000000000000003.partial", (SegmentName(1, 3), None, True)),
        ("000000010000000000000003.zst", None),
        ("000000010000000000000003.partial.gz", None),
        ("00000002.history", None),
    ],
)
def test_segment_file_names_with_their_suffixes(
    name: str, expected: tuple[SegmentName, str | None, bool] | None
) -> None:
    assert classify_segment_name(name, MIB) == expected


def test_partial_name_is_the_segment_name_and_partial() -> None:
    assert SegmentName(2, 4097).partial_name(MIB) == "000000020000000100000001.partial"


@pytest.mark.parametrize(
    ("size", "valid"),
    [
        (MIB, True),
        (16 * MIB, True),
        (1024 * MIB, True),
        (0, False),
        (MIB // 2, False),
        (2048 * MIB, False),
        (3 * MIB, False),
    ],
)
def test_segment_sizes_postgres_can_have(size: int, valid: bool) -> None:
    assert is_valid_segment_size(size) is valid
