"""Lost WAL (invalidated slot) and synchronous replication against a real server."""

from __future__ import annotations

import threading
import time

import pytest

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName, format_lsn
from cnpg_wal_replica.archive.state import load_state
from cnpg_wal_replica.receiver.recovery import streaming_start
from cnpg_wal_replica.tools.verify import verify_archive

from .conftest import (
    APP,
    streaming,
    wait_caught_up,
    wait_synchronous,
    wait_until,
    write_segments,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SEGMENT = 2**20


@pytest.mark.parametrize("how", ["invalidated", "dropped"])
def test_lost_slot_resumes_and_records_exact_gap(primary, make_receiver, how):
    primary.set_config(max_slot_wal_keep_size="2MB", wal_keep_size="0")
    receiver = make_receiver(primary)
    wait_until(lambda: streaming(primary), 20, "streaming")
    write_segments(primary, 2)
    wait_caught_up(primary)
    assert receiver.stop() == 0
    start = streaming_start(list_archive(receiver.directory, SEGMENT))
    assert start is not None
    if how == "dropped":
        primary.sql("SELECT pg_drop_replication_slot('wal_replica')")
    write_segments(primary, 8)
    primary.sql("CHECKPOINT")
    if how == "invalidated":
        assert primary.sql("SELECT wal_status FROM pg_replication_slots")[0][0] == "lost"
    else:
        primary.sql("CHECKPOINT")

    receiver.start()
    wait_until(lambda: '"wal_lost"' in receiver.log(), 20, "the wal_lost log")
    wait_until(lambda: streaming(primary), 10, "streaming again")
    write_segments(primary, 2)
    wait_caught_up(primary)
    assert receiver.metric("cnpg_wal_replica_receiver_gaps") == 1
    recorded = receiver.metric("cnpg_wal_replica_receiver_last_gap_timestamp_seconds")
    assert recorded is not None
    assert abs(recorded - time.time()) < 60
    assert receiver.metric("cnpg_wal_replica_receiver_archive_refused") == 0
    assert receiver.stop() == 0

    gaps = load_state(receiver.directory).gaps
    assert len(gaps) == 1
    gap = gaps[0]
    assert (gap.timeline, gap.start_lsn) == (1, start.lsn)
    assert gap.end_lsn % SEGMENT == 0
    assert gap.end_lsn > gap.start_lsn
    names = {p.name for p in receiver.directory.iterdir()}
    first_after = SegmentName(1, gap.end_lsn // SEGMENT).name(SEGMENT)
    last_before = SegmentName(1, gap.start_lsn // SEGMENT - 1).name(SEGMENT)
    assert first_after in names
    assert last_before in names
    for segno in range(gap.start_lsn // SEGMENT, gap.end_lsn // SEGMENT):
        assert SegmentName(1, segno).name(SEGMENT) not in names

    state = load_state(receiver.directory)
    report = verify_archive(list_archive(receiver.directory, SEGMENT), state)
    assert not report.whole
    assert [p.kind for p in report.problems] == ["recorded-gap"]
    expected = f"{format_lsn(gap.start_lsn)} to {format_lsn(gap.end_lsn)}"
    assert expected in report.problems[0].message


def test_synchronous_commit_waits_for_the_receiver(primary, make_receiver):
    primary.set_config(synchronous_standby_names=APP)
    receiver = make_receiver(primary)
    wait_synchronous(primary)
    listed = "cnpg_wal_replica_receiver_synchronous_listed"
    wait_until(lambda: receiver.metric(listed) == 1, 5, "listed in synchronous_standby_names")
    primary.sql("CREATE TABLE t (x int)")
    started = time.monotonic()
    primary.sql("INSERT INTO t VALUES (1)")
    assert time.monotonic() - started < 1.0, "a commit with the receiver up is prompt"

    assert receiver.stop() == 0
    done = threading.Event()

    def commit() -> None:
        primary.sql("INSERT INTO t VALUES (2)")
        done.set()

    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    assert not done.wait(1.5), "the commit must wait while the receiver is stopped"
    receiver.start()
    assert done.wait(15), "the commit completes once the receiver is back"
    thread.join(5)
    assert primary.sql("SELECT count(*) FROM t")[0][0] == 2
    primary.set_config(synchronous_standby_names="")
    wait_until(lambda: receiver.metric(listed) == 0, 5, "no longer listed")
    assert receiver.stop() == 0
