"""Timeline history files: reading, parsing, the line of timelines to a target."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnpg_wal_replica.archive.history import (
    Ancestry,
    TimelineSwitch,
    ancestry,
    parse_history,
    read_histories,
    timeline_of_lsn,
)
from cnpg_wal_replica.archive.listing import list_archive

HISTORY = "1\t0/5000060\tno recovery target specified\n\n2\t0/9A000A0\tpromoted\n"


def test_parse_history_and_find_timeline_of_an_lsn() -> None:
    switches = parse_history(HISTORY)
    assert switches == (
        TimelineSwitch(1, 0x5000060, "no recovery target specified"),
        TimelineSwitch(2, 0x9A000A0, "promoted"),
    )
    assert timeline_of_lsn(switches, 3, 0x5000000) == 1
    assert timeline_of_lsn(switches, 3, 0x5000060) == 2
    assert timeline_of_lsn(switches, 3, 0x9A000A0) == 3


def test_ancestry_reads_each_switch_segment_from_the_new_timeline() -> None:
    line = ancestry(parse_history(HISTORY), 3, 16 * 2**20)  # switches in segments 5 and 9
    assert line == Ancestry(((1, 0), (2, 5), (3, 9)))
    assert line.timelines == {1, 2, 3}
    assert line.switch_segments == {(1, 5), (2, 9)}
    assert [line.timeline_for(n) for n in (0, 4, 5, 8, 9, 0x200)] == [1, 1, 2, 2, 3, 3]


def test_ancestry_without_history_is_the_target_alone() -> None:
    line = ancestry((), 1, 16 * 2**20)
    assert line.timelines == {1}
    assert line.switch_segments == set()
    assert line.timeline_for(7) == 1


def test_parse_history_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_history("1\t0/5000060\tok\nbroken\n")


def test_read_histories_parses_each_file_and_names_the_broken_ones(tmp_path: Path) -> None:
    (tmp_path / "00000002.history").write_text("1\t0/5000060\tpromoted\n")
    (tmp_path / "00000003.history").write_text("1\t0/5000060\tpromoted\nbroken\n")
    (tmp_path / "00000004.history").write_bytes(b"\xff\xfe")
    parsed, errors = read_histories(list_archive(tmp_path, 16 * 2**20))
    assert parsed == {2: (TimelineSwitch(1, 0x5000060, "promoted"),)}
    assert sorted(errors) == [3, 4]
    assert "line 2" in errors[3]
