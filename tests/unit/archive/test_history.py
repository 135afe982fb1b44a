"""Timeline history files: parsing, and which timeline holds an LSN."""

from __future__ import annotations

import pytest

from cnpg_wal_replica.archive.history import TimelineSwitch, parse_history, timeline_of_lsn

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


def test_parse_history_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_history("1\t0/5000060\tok\nbroken\n")
