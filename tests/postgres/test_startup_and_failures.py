"""Every input gets a clear answer: bad settings and broken start-up conditions stop the
receiver with one line and a non-zero status; a background task that dies ends the process."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnpg_wal_replica import localpg, logs
from cnpg_wal_replica.receiver import app
from cnpg_wal_replica.receiver.settings import ReceiverSettings

from .conftest import receiver_env, wait_until

pytestmark = pytest.mark.postgres


def run_receive(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from cnpg_wal_replica.receiver.cli import receive; receive()"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def settings_for(pg: localpg.LocalPostgres, directory: Path) -> ReceiverSettings:
    env = receiver_env(pg, directory)
    return ReceiverSettings(
        **{k.removeprefix("WAL_RECEIVER_").lower(): v for k, v in env.items()}  # type: ignore[arg-type]
    )


def test_a_failing_status_task_ends_the_receiver_loudly(
    primary: localpg.LocalPostgres, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a value validation refuses today, forced in: retention arithmetic overflows in the poller
    settings = settings_for(primary, workdir / "wal").model_copy(
        update={"retention_max_age": 10**400}
    )
    logs.configure("json")
    started = time.monotonic()
    code = asyncio.run(asyncio.wait_for(app.run_receiver(settings, handle_signals=False), 60))
    err = capsys.readouterr().err
    assert code == app.EXIT_FAILED
    assert time.monotonic() - started < 30
    assert '"receiver_failed"' in err
    assert "status poller failed: OverflowError" in err
    # pg_receivewal was stopped cleanly, the slot is free again
    wait_until(
        lambda: primary.sql("SELECT active FROM pg_replication_slots")[0][0] is False,
        10,
        "the slot to be released",
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RETENTION_MAX_AGE", "99999999999999999999d", "must be from 1s to 36500d"),
        ("RETENTION_MAX_SIZE", "999Ei", "must be from 1 byte to 8Ei, e.g. 50Gi"),
        ("RETENTION_MAX_AGE", "9" * 5000, "is longer than 64 characters"),
    ],
)
def test_absurd_settings_are_refused_at_start(
    primary: localpg.LocalPostgres, workdir: Path, name: str, value: str, expected: str
) -> None:
    result = run_receive(receiver_env(primary, workdir / "wal", **{name.lower(): value}))
    assert result.returncode != 0
    assert f"WAL_RECEIVER_{name}" in result.stderr
    assert value in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_http_port_in_use_is_one_line_and_exit_1(
    primary: localpg.LocalPostgres, workdir: Path
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = receiver_env(primary, workdir / "wal", http_address=f"127.0.0.1:{port}")
        result = run_receive(env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "WAL_RECEIVER_HTTP_ADDRESS" in lines[0]
    assert not primary.sql("SELECT * FROM pg_replication_slots")  # nothing was started


def test_missing_pg_receivewal_is_one_line_and_exit_1(
    primary: localpg.LocalPostgres, workdir: Path
) -> None:
    env = receiver_env(primary, workdir / "wal", pg_receivewal=str(workdir / "nope"))
    result = run_receive(env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"pg_receivewal not found at {workdir / 'nope'}" in lines[0]
    assert not primary.sql("SELECT * FROM pg_replication_slots")
