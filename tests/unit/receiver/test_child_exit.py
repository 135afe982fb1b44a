"""Reading why pg_receivewal exited from its last lines (as PostgreSQL 15 prints them)."""

from __future__ import annotations

from cnpg_wal_replica.receiver.child_exit import read_exit

DISCONNECTED = "pg_receivewal: error: disconnected"
BUSY = (
    'pg_receivewal: error: could not send replication command "START_REPLICATION": '
    'ERROR:  replication slot "pg_wal_receiver" is active for PID {pid}'
)
LOST = (
    "pg_receivewal: error: unexpected termination of replication stream: ERROR:  "
    "requested WAL segment 000000010000000000000003 has already been removed"
)
FORK = (
    'pg_receivewal: error: could not send replication command "START_REPLICATION": ERROR:  '
    "requested starting point 0/5000000 on timeline 1 is not in this server's history"
)


def test_the_reason_is_reported_not_the_disconnected_line_after_it() -> None:
    exited = read_exit([LOST, DISCONNECTED])
    assert exited.lost_wal
    assert not exited.forked
    assert exited.last_error == LOST
    assert exited.event == "pg_receivewal_exited"
    assert exited.walsender_pid is None
    assert exited.slot_in_use("pg_wal_receiver") is None


def test_a_fork_is_told_apart_from_lost_wal() -> None:
    exited = read_exit(["pg_receivewal: starting log streaming at 0/5000000 (timeline 1)", FORK])
    assert exited.forked
    assert not exited.lost_wal


def test_a_busy_slot_names_the_walsender_and_repeats_whatever_its_pid() -> None:
    first = read_exit([BUSY.format(pid=4242), DISCONNECTED])
    again = read_exit([BUSY.format(pid=4343)])
    assert first.event == "slot_active_elsewhere"
    assert first.walsender_pid == 4242
    assert first.last_error == BUSY.format(pid=4242)
    assert first.repeat_key == again.repeat_key
    message = first.slot_in_use("pg_wal_receiver")
    assert message is not None
    assert "replication slot pg_wal_receiver is in use" in message
    assert "walsender PID 4242" in message


def test_only_noise_or_nothing() -> None:
    assert read_exit([DISCONNECTED]).last_error == DISCONNECTED
    nothing = read_exit([])
    assert nothing.last_error is None
    assert nothing.repeat_key == "pg_receivewal_exited: "
    assert not nothing.lost_wal
    assert not nothing.forked
