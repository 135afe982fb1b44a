"""Failures the receiver must name for what they are: an unreachable primary (quietly, with
backoff), a slot held by someone else, a WAL directory it cannot write, a killed receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName

from .conftest import streaming, wait_caught_up, wait_until, write_segments

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def events(log: str) -> list[dict[str, object]]:
    found = []
    for line in log.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def named(log: str, event: str) -> list[dict[str, object]]:
    return [e for e in events(log) if e.get("event") == event]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_unreachable_primary_backs_off_and_logs_state_changes(primary, make_receiver):
    primary.stop()
    receiver = make_receiver(primary)
    time.sleep(14)
    lines = [e for e in events(receiver.log()) if e.get("event") != "receiver_starting"]
    unavailable = [e for e in lines if e["event"] == "server_unavailable"]
    assert 1 <= len(unavailable) <= 2, unavailable  # the start (and a change of message)
    assert len(lines) <= 6, lines  # was 67 lines in 14 s at one attempt per 0.2 s
    response = receiver.get("/readyz")
    assert response is not None
    assert response.status_code == 503
    primary.start()
    started = time.monotonic()
    wait_until(receiver.ready, 20, "/readyz after the primary started")
    assert time.monotonic() - started < 10  # the backoff is capped at 5 s
    (back,) = named(receiver.log(), "prepare_succeeded")
    assert 10 <= int(back["attempts"]) <= 20  # 10 fast ones, then 5 s apart; was 70 in 14 s


def test_sub_second_first_retry_after_a_primary_restart(primary, make_receiver):
    make_receiver(primary)
    wait_until(lambda: streaming(primary), 20, "streaming")
    primary.restart()
    started = time.monotonic()
    wait_until(lambda: streaming(primary), 20, "streaming again")
    assert time.monotonic() - started < 3


def test_killed_receiver_takes_pg_receivewal_with_it(primary, make_receiver):
    first = make_receiver(primary)
    wait_until(first.ready, 20, "/readyz")
    child = first.child_pid()
    assert child is not None
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(lambda: not alive(child), 5, "pg_receivewal to die with its parent")
    second = make_receiver(primary)
    started = time.monotonic()
    wait_until(second.ready, 20, "the restarted receiver to stream")
    assert time.monotonic() - started < 5
    assert not named(second.log(), "slot_active_elsewhere")


def test_slot_held_elsewhere_is_reported_as_such(primary, make_receiver, workdir: Path):
    primary.sql("SELECT pg_create_physical_replication_slot('wal_replica', true)")
    other_dir = workdir / "other"
    other_dir.mkdir()
    params = primary.replica_params()
    dsn = " ".join(f"{k}={v}" for k, v in params.items() if k != "dbname")
    holder = subprocess.Popen(
        [
            str(primary.bindir / "pg_receivewal"),
            f"--directory={other_dir}",
            "--slot=wal_replica",
            f"--dbname={dsn} application_name=someone_else",
            "--no-loop",
            "--no-password",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: streaming(primary, "someone_else"), 20, "the other holder to stream")
        receiver = make_receiver(primary)
        wait_until(
            lambda: receiver.metric("cnpg_wal_replica_receiver_slot_active_elsewhere") == 1,
            20,
            "slot_active_elsewhere metric",
        )
        response = receiver.get("/readyz")
        assert response is not None
        assert response.status_code == 503
        assert "replication slot wal_replica is in use by another connection" in response.text
        (first, *_rest) = named(receiver.log(), "slot_active_elsewhere")
        assert int(first["walsender_pid"]) > 0
        assert not named(receiver.log(), "pg_receivewal_exited")
    finally:
        holder.send_signal(signal.SIGINT)
        holder.wait(10)
    wait_until(receiver.ready, 30, "/readyz once the slot is free")
    wait_until(
        lambda: receiver.metric("cnpg_wal_replica_receiver_slot_active_elsewhere") == 0,
        10,
        "metric back to 0",
    )


def test_missing_parent_directory_is_a_storage_problem(make_receiver, primary, workdir):
    dangling = workdir / "gone"
    dangling.symlink_to(workdir / "nowhere")
    receiver = make_receiver(primary, directory=dangling / "wal")
    wait_until(lambda: named(receiver.log(), "local_storage_error"), 20, "local_storage_error")
    (event,) = named(receiver.log(), "local_storage_error")[:1]
    assert str(dangling) in str(event["path"])
    assert not named(receiver.log(), "server_unavailable")
    response = receiver.get("/readyz")
    assert response is not None
    assert response.status_code == 503
    assert f"cannot use the WAL directory: {dangling}" in response.text
    assert receiver.metric("cnpg_wal_replica_receiver_storage_error") == 1
    assert not primary.sql("SELECT * FROM pg_replication_slots")  # nothing pinned for nothing


@pytest.fixture
def mounted(workdir: Path) -> Iterator[Path]:
    path = workdir / "wal"
    path.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def test_read_only_directory_is_reported_as_wal_piling_up(primary, make_receiver, mounted):
    receiver = make_receiver(primary, directory=mounted)
    wait_until(receiver.ready, 20, "/readyz")
    write_segments(primary, 1)
    wait_caught_up(primary)
    remount(mounted, "ro")
    write_segments(primary, 3)
    wait_until(
        lambda: receiver.metric("cnpg_wal_replica_receiver_storage_error") == 1,
        15,
        "storage_error metric",
    )
    response = receiver.get("/readyz")
    assert response is not None
    assert response.status_code == 503
    assert f"cannot use the WAL directory: {mounted}" in response.text
    assert "keeps WAL on the primary" in response.text
    log = receiver.log()  # whichever noticed first: the status loop or the next round
    assert named(log, "wal_directory_unwritable") or named(log, "local_storage_error")
    # the slot is kept: the WAL is still on the primary, and streams once writable again
    assert primary.sql("SELECT count(*) FROM pg_replication_slots")[0][0] == 1
    remount(mounted, "rw")
    wait_until(receiver.ready, 40, "/readyz once writable")
    wait_caught_up(primary, 30)
    assert receiver.metric("cnpg_wal_replica_receiver_storage_error") == 0
    assert named(receiver.log(), "wal_directory_writable")


def test_read_only_directory_at_start_creates_no_slot(primary, make_receiver, mounted):
    remount(mounted, "ro")
    receiver = make_receiver(primary, directory=mounted)
    wait_until(
        lambda: receiver.metric("cnpg_wal_replica_receiver_storage_error") == 1,
        15,
        "storage_error metric",
    )
    assert named(receiver.log(), "local_storage_error")
    assert not primary.sql("SELECT * FROM pg_replication_slots")
    assert os.path.ismount(mounted)


def test_partial_left_short_by_a_killed_pg_receivewal_is_padded(primary, make_receiver):
    receiver = make_receiver(primary)
    wait_until(receiver.ready, 20, "/readyz")
    write_segments(primary, 2)
    wait_caught_up(primary)
    assert receiver.stop() == 0
    partial = next(iter(receiver.directory.glob("*.partial")), None)
    if partial is None:  # stopped right at a segment boundary: the next one was not begun
        listing = list_archive(receiver.directory, 2**20)
        newest = listing.segments[-1].segment
        following = SegmentName(newest.timeline, newest.segno + 1).name(2**20)
        partial = receiver.directory / f"{following}.partial"
        partial.write_bytes(b"")
    os.truncate(partial, 540672)  # what a kill during the zero fill leaves behind
    write_segments(primary, 1)
    again = make_receiver(primary, directory=receiver.directory)
    wait_until(again.ready, 20, "/readyz after the restart")
    wait_caught_up(primary)
    (padded,) = named(again.log(), "partial_padded")
    assert (padded["file"], padded["size"]) == (partial.name, 540672)
    assert not named(again.log(), "pg_receivewal_exited")
    assert again.stop() == 0
