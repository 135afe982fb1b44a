"""The receiver streams from a real PostgreSQL over TLS with certificate authentication."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from cnpg_wal_replica.archive.headers import XLP_LONG_HEADER, LongPageHeader
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import parse_segment_name
from cnpg_wal_replica.archive.state import STATE_FILE, ArchiveState, load_state, save_state
from cnpg_wal_replica.tools.verify import verify_archive

from .conftest import streaming, wait_caught_up, wait_until, write_segments

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def verify_whole(directory: Path) -> None:
    state = load_state(directory)
    assert state.segment_size is not None
    report = verify_archive(list_archive(directory, state.segment_size), state)
    assert report.whole, report.problems


def test_streams_creates_slot_and_exits_0_on_sigterm(primary, make_receiver):
    assert primary.sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 0
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "/readyz to answer 200")
    slot = primary.sql(
        "SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = 'wal_replica'"
    )
    assert slot == [("physical", True)]
    write_segments(primary, 3)
    target = wait_caught_up(primary)
    sysid = str(primary.sql("SELECT system_identifier FROM pg_control_system()")[0][0])
    state = load_state(receiver.directory)
    assert (state.system_identifier, state.timeline, state.segment_size) == (sysid, 1, 2**20)
    assert len(receiver.segments()) >= 3
    wait_until(
        lambda: (receiver.metric("cnpg_wal_replica_receiver_flushed_lsn") or 0) >= target,
        5,
        "flushed_lsn metric",
    )
    assert receiver.metric("cnpg_wal_replica_receiver_connected") == 1
    assert receiver.metric("cnpg_wal_replica_receiver_timeline") == 1
    assert receiver.get("/healthz").status_code == 200
    assert receiver.stop(signal.SIGTERM) == 0
    assert not streaming(primary)
    assert '"pg_receivewal_exited"' not in receiver.log()
    for path in receiver.directory.iterdir():  # nothing half-written under a final name
        if parse_segment_name(path.name, 2**20) is not None:
            assert path.stat().st_size == 2**20, path.name
    verify_whole(receiver.directory)
    log = receiver.log()
    assert "BEGIN PRIVATE KEY" not in log


def test_existing_slot_is_reused(primary, make_receiver):
    primary.sql("SELECT pg_create_physical_replication_slot('wal_replica', true)")
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "ready")
    assert '"slot_exists"' in receiver.log()
    assert '"slot_created"' not in receiver.log()
    assert primary.sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 1


def test_kill_9_of_pg_receivewal_restarts_without_gap(primary, make_receiver):
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "ready")
    write_segments(primary, 2)
    pid = wait_until(receiver.child_pid, 5, "pg_receivewal child")
    assert isinstance(pid, int)
    os.kill(pid, signal.SIGKILL)
    write_segments(primary, 2)
    wait_until(lambda: receiver.child_pid() not in (None, pid), 5, "a new pg_receivewal")
    wait_caught_up(primary)
    assert receiver.metric("cnpg_wal_replica_receiver_restarts_total") == 1
    assert receiver.stop() == 0
    verify_whole(receiver.directory)


def test_primary_restart_resumes_within_one_second(primary, make_receiver):
    receiver = make_receiver(primary)
    wait_until(lambda: streaming(primary), 20, "streaming")
    primary.stop("fast")
    time.sleep(1.5)  # long enough for a few retries to fail
    primary.start()  # returns once the server accepts connections
    accepted = time.monotonic()
    wait_until(lambda: streaming(primary), 5, "streaming again", interval=0.02)
    resumed = time.monotonic() - accepted
    print(f"streaming resumed {resumed:.3f} s after the server accepted connections")
    assert resumed < 1.0, f"streaming resumed {resumed:.2f} s after the server came back"
    write_segments(primary, 1)
    wait_caught_up(primary)
    assert receiver.stop() == 0
    verify_whole(receiver.directory)


def foreign_segment(directory: Path, sysid: int) -> None:
    header = LongPageHeader(0xD110, XLP_LONG_HEADER, 1, 0x100000, 0, sysid, 2**20, 8192)
    (directory / "000000010000000000000001").write_bytes(header.pack().ljust(2**20, b"\0"))


@pytest.mark.parametrize("evidence", ["state file", "WAL only"])
def test_foreign_directory_is_refused_and_untouched(primary, make_receiver, workdir, evidence):
    directory = workdir / "wal"
    directory.mkdir()
    if evidence == "state file":
        save_state(directory, ArchiveState("42", 1, 2**20))
    else:
        foreign_segment(directory, 42)
    before = sorted(os.listdir(directory))
    receiver = make_receiver(primary)
    wait_until(lambda: receiver.get("/readyz") is not None, 10, "HTTP endpoint")
    wait_until(lambda: '"foreign_archive"' in receiver.log(), 10, "foreign_archive log")
    response = receiver.get("/readyz")
    assert response is not None
    assert response.status_code == 503
    assert "holds system 42" in response.text
    assert receiver.metric("cnpg_wal_replica_receiver_system_identifier_mismatch") == 1
    assert receiver.metric("cnpg_wal_replica_receiver_archive_refused") == 1
    assert sorted(os.listdir(directory)) == before
    if evidence == "state file":
        assert load_state(directory).system_identifier == "42"
    assert primary.sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 0
    assert receiver.stop() == 0


def test_damaged_state_file_blocks_writing_without_crashing(primary, make_receiver, workdir):
    directory = workdir / "wal"
    directory.mkdir()
    (directory / STATE_FILE).write_text("{not json")
    receiver = make_receiver(primary)
    wait_until(lambda: '"foreign_archive"' in receiver.log(), 15, "refusal in the log")
    response = receiver.get("/readyz")
    assert response is not None
    assert response.status_code == 503
    assert "is not a valid state file" in response.text
    assert receiver.metric("cnpg_wal_replica_receiver_archive_refused") == 1
    assert (directory / STATE_FILE).read_text() == "{not json"
    assert sorted(os.listdir(directory)) == [STATE_FILE]
    assert receiver.get("/healthz").status_code == 200, "the supervisor keeps running"
    assert receiver.stop() == 0


@pytest.mark.parametrize("case", ["wrong CA", "wrong host name"])
def test_verify_full_refuses_wrong_ca_or_host(primary, make_receiver, workdir, case):
    from cnpg_wal_replica.localtls import write_other_ca

    if case == "wrong CA":
        overrides = {"sslrootcert": str(write_other_ca(workdir / "other-ca.crt"))}
        expected = "certificate verify failed"
    else:
        overrides = {"host": "127.0.0.2"}  # not in the server certificate's SAN
        expected = "does not match host name"
        # 127.0.0.2 is loopback on Linux, but not in the server certificate
        primary.set_config(listen_addresses="127.0.0.1,127.0.0.2")
        primary.restart()
    receiver = make_receiver(primary, **overrides)
    wait_until(lambda: expected in receiver.log(), 15, f"the {case} error in the log")
    assert not receiver.ready()
    assert primary.sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 0
    assert not (receiver.directory / STATE_FILE).exists()
    assert receiver.stop() == 0


def test_lsn_metric_matches_server(primary, make_receiver):
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "ready")
    write_segments(primary, 1)
    target = wait_caught_up(primary)
    wait_until(lambda: receiver.metric("cnpg_wal_replica_receiver_lag_bytes") == 0, 5, "lag 0")
    assert (receiver.metric("cnpg_wal_replica_receiver_primary_current_lsn") or 0) >= target


def test_retention_trims_oldest_segments_at_start(primary, make_receiver):
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "ready")
    write_segments(primary, 6)
    wait_caught_up(primary)
    assert receiver.stop() == 0
    before = receiver.segments()
    assert len(before) >= 6
    trimmed = make_receiver(primary, retention_max_size="3Mi")
    wait_until(lambda: '"retention"' in trimmed.log(), 15, "a retention run")
    after = trimmed.segments()
    assert after == before[-len(after) :], "only the oldest segments go"
    assert 1 <= len(after) <= 3
    assert (trimmed.metric("cnpg_wal_replica_receiver_retention_deleted_segments_total") or 0) == (
        len(before) - len(after)
    )
    assert trimmed.stop() == 0
