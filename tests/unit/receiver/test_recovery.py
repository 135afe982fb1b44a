"""Pure plans for timeline forks and lost WAL."""

from __future__ import annotations

import datetime
from pathlib import Path

from cnpg_wal_replica.archive.history import TimelineSwitch
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName
from cnpg_wal_replica.receiver.recovery import (
    StreamStart,
    plan_fork,
    plan_lost_wal,
    streaming_start,
)

MIB = 2**20
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def make(directory: Path, *names: str):
    for name in names:
        (directory / name).write_bytes(b"")
    return list_archive(directory, MIB)


def seg(tli: int, segno: int) -> str:
    return SegmentName(tli, segno).name(MIB)


def test_start_follows_pg_receivewal_rules(tmp_path: Path) -> None:
    assert streaming_start(make(tmp_path)) is None
    listing = make(tmp_path, seg(1, 2), seg(1, 3))
    assert streaming_start(listing) == StreamStart(1, 4 * MIB)
    listing = make(tmp_path, seg(1, 4) + ".partial")
    assert streaming_start(listing) == StreamStart(1, 4 * MIB)
    listing = make(tmp_path, seg(2, 4) + ".partial")
    assert streaming_start(listing) == StreamStart(2, 4 * MIB)


def history(*switches: tuple[int, int]) -> tuple[TimelineSwitch, ...]:
    return tuple(TimelineSwitch(p, lsn, "") for p, lsn in switches)


def test_no_fork_when_start_is_before_the_switch(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2), seg(1, 3) + ".partial")
    assert plan_fork(listing, 2, history((1, 3 * MIB + 500))) is None
    assert plan_fork(listing, 1, ()) is None


def test_fork_mid_segment_moves_diverged_segments(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2), seg(1, 3), seg(1, 4), seg(1, 5) + ".partial")
    plan = plan_fork(listing, 2, history((1, 3 * MIB + 500)))
    assert plan is not None
    assert sorted(p.name for p in plan.move_aside) == [seg(1, 3), seg(1, 4), seg(1, 5) + ".partial"]
    assert plan.create_partial is None  # start 3 MiB on timeline 1 is in the history
    assert (plan.fork_timeline, plan.fork_lsn) == (1, 3 * MIB + 500)


def test_fork_on_segment_boundary_creates_child_partial(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2), seg(1, 3), seg(1, 4))
    plan = plan_fork(listing, 2, history((1, 3 * MIB)))
    assert plan is not None
    assert sorted(p.name for p in plan.move_aside) == [seg(1, 3), seg(1, 4)]
    assert plan.create_partial == seg(2, 3) + ".partial"


def test_boundary_without_divergence_still_needs_the_partial(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2))
    plan = plan_fork(listing, 2, history((1, 3 * MIB)))
    assert plan is not None
    assert plan.move_aside == ()
    assert plan.create_partial == seg(2, 3) + ".partial"
    listing = make(tmp_path, seg(2, 3) + ".partial")
    assert plan_fork(listing, 2, history((1, 3 * MIB))) is None


def test_unknown_timelines_and_their_history_are_set_aside(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2), seg(2, 3), "00000002.history", seg(2, 4) + ".partial")
    # the server is on timeline 3, forked from 1: it never had our timeline 2
    plan = plan_fork(listing, 3, history((1, 3 * MIB + 100)))
    assert plan is not None
    assert sorted(p.name for p in plan.move_aside) == [
        "00000002.history",
        seg(2, 3),
        seg(2, 4) + ".partial",
    ]
    assert plan.create_partial is None


def test_lost_wal_records_gap_to_the_resume_segment(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 2), seg(1, 3), seg(1, 4) + ".partial")
    plan = plan_lost_wal(listing, server_timeline=1, resume_lsn=9 * MIB + 1234, now=NOW)
    assert plan is not None
    assert (plan.gap.start_lsn, plan.gap.end_lsn, plan.gap.timeline) == (4 * MIB, 9 * MIB, 1)
    assert plan.create_partial == seg(1, 9) + ".partial"
    assert plan.gap.recorded_at.startswith("2026-01-01T00:00:00")


def test_lost_wal_nothing_when_already_past(tmp_path: Path) -> None:
    listing = make(tmp_path, seg(1, 9) + ".partial")
    assert plan_lost_wal(listing, server_timeline=1, resume_lsn=9 * MIB, now=NOW) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan_lost_wal(make(empty), server_timeline=1, resume_lsn=MIB, now=NOW) is None
