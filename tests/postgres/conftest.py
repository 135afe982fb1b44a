"""Fixtures: a real PostgreSQL 15 on 127.0.0.1 (TLS, cert auth) and the real receiver process.

The receiver runs as a subprocess (``python -c ... receive``) configured only through the
``WAL_RECEIVER_*`` environment, exactly as the plugin's Deployment configures it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import localreceiver
from support.localreceiver import wait_until

from cnpg_wal_replica import localpg
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.state import load_state

if not (Path("/usr/lib/postgresql") / localpg.PG_VERSION / "bin" / "postgres").exists():
    pytest.skip("PostgreSQL 15 server binaries are not installed", allow_module_level=True)

APP = "wal_receiver_test"


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="wal-replica-test-"))
    path.chmod(0o711)  # the server runs as "postgres" when the tests run as root
    try:
        yield path
    finally:
        localpg.stop_all(path / "pg")
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def primary(workdir: Path) -> localpg.LocalPostgres:
    return localpg.create_primary(workdir / "pg")


class Receiver:
    """One `cnpg-wal-replica receive` process."""

    def __init__(self, env: dict[str, str], directory: Path, log: Path) -> None:
        self.env = env
        self.directory = directory
        self.log_path = log
        self.http_port = int(env["WAL_RECEIVER_HTTP_ADDRESS"].rsplit(":", 1)[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from cnpg_wal_replica.receiver.cli import receive; receive()",
                ],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=log,
            )

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def child_pid(self) -> int | None:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        pids = path.read_text().split() if path.exists() else []
        return int(pids[0]) if pids else None

    def get(self, path: str) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}{path}", timeout=2)
        except httpx.HTTPError:
            return None

    def ready(self) -> bool:
        response = self.get("/readyz")
        return response is not None and response.status_code == 200

    def metric(self, name: str) -> float | None:
        response = self.get("/metrics")
        if response is None:
            return None
        for line in response.text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def segments(self) -> list[str]:
        state = load_state(self.directory)
        listing = list_archive(self.directory, state.segment_size or 1024 * 1024)
        return [s.path.name for s in listing.segments]


def receiver_env(pg: localpg.LocalPostgres, directory: Path, **overrides: str) -> dict[str, str]:
    """The environment the plugin's Deployment would set, pointing at ``pg``."""
    return localreceiver.receiver_env(pg, directory, APP, **overrides)


@pytest.fixture
def make_receiver(workdir: Path) -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(
        pg: localpg.LocalPostgres,
        *,
        start: bool = True,
        directory: Path | None = None,
        **overrides: str,
    ) -> Receiver:
        wal_dir = directory or workdir / "wal"
        receiver = Receiver(
            receiver_env(pg, wal_dir, **overrides), wal_dir, workdir / f"receiver-{len(made)}.log"
        )
        made.append(receiver)
        if start:
            receiver.start()
        return receiver

    yield make
    for receiver in made:
        print(f"---- {receiver.log_path.name} ----\n{receiver.log()[-6000:]}")  # shown on failure
        if receiver.proc is not None:
            receiver.proc.kill()
            receiver.proc.wait()
    for pid in _orphan_receivewals(workdir):
        os.kill(pid, signal.SIGKILL)


def _orphan_receivewals(workdir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0].endswith(b"pg_receivewal")
            and any(str(workdir).encode() in part for part in cmdline)
        ):
            pids.append(int(proc.name))
    return pids


def streaming(pg: localpg.LocalPostgres, app: str = APP) -> bool:
    """Whether ``pg`` has a walsender for ``app`` in state streaming."""
    rows = pg.sql("SELECT state FROM pg_stat_replication WHERE application_name = %s", (app,))
    return bool(rows) and rows[0][0] == "streaming"


def flushed_lsn(pg: localpg.LocalPostgres, app: str = APP) -> int:
    """The receiver's flush position as the server sees it (0 when not connected)."""
    from cnpg_wal_replica.archive.names import parse_lsn

    rows = pg.sql(
        "SELECT flush_lsn::text FROM pg_stat_replication WHERE application_name = %s", (app,)
    )
    return parse_lsn(rows[0][0]) if rows and rows[0][0] else 0


def write_segments(pg: localpg.LocalPostgres, count: int) -> None:
    """Write a little and switch to a new segment, ``count`` times."""
    pg.sql("CREATE TABLE IF NOT EXISTS load (id serial, payload text)")
    for _ in range(count):
        pg.sql("INSERT INTO load (payload) SELECT repeat('x', 200) FROM generate_series(1, 50)")
        pg.sql("SELECT pg_switch_wal()")


def wait_caught_up(pg: localpg.LocalPostgres, timeout: float = 15) -> int:
    """Wait until the receiver flushed everything the server has written; that LSN."""
    target = pg.current_lsn()
    wait_until(lambda: flushed_lsn(pg) >= target, timeout, f"flush to reach {target:X}")
    return target


def wait_synchronous(pg: localpg.LocalPostgres, app: str = APP, timeout: float = 20) -> None:
    """Wait until ``pg`` reports ``app`` as its synchronous standby."""
    wait_until(
        lambda: (
            pg.sql("SELECT sync_state FROM pg_stat_replication WHERE application_name = %s", (app,))
            == [("sync",)]
        ),
        timeout,
        "the receiver to be the synchronous standby",
    )
