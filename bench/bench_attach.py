"""What gets attached to the primary during one receiver benchmark run.

Every streaming client connects as streaming_replica over TLS (verify-full), like the
receiver does; `make_component` maps a configuration name of bench_receiver to one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import bench_procs
from psycopg.conninfo import make_conninfo
from support import localreceiver

from cnpg_wal_replica import localpg

RECEIVER_SLOT = "wal_replica"
BARE_SLOT = "bare_receivewal"


class Component(Protocol):
    """Something attached to the primary during one run."""

    application_name: str | None

    def start(self) -> None: ...

    def pids(self) -> dict[str, int]: ...

    def stop(self) -> None: ...


class Nothing:
    application_name: str | None = None

    def start(self) -> None:
        pass

    def pids(self) -> dict[str, int]:
        return {}

    def stop(self) -> None:
        pass


class Receiver:
    """`cnpg-wal-replica receive`, configured only through WAL_RECEIVER_* as in its pod."""

    def __init__(self, primary: localpg.LocalPostgres, workdir: Path) -> None:
        self.primary = primary
        self.application_name: str | None = "wal_receiver_bench"
        self.directory = workdir / "receiver-wal"
        self.log = workdir / "receiver.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = localreceiver.receiver_env(
            self.primary,
            self.directory,
            str(self.application_name),
            slot_name=RECEIVER_SLOT,
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cnpg_wal_replica", "receive"],
                env={**os.environ, **env},
                stdout=log,
                stderr=log,
            )

    def pids(self) -> dict[str, int]:
        assert self.process is not None
        found = {"supervisor": self.process.pid}
        for child in bench_procs.children(self.process.pid):
            if Path(f"/proc/{child}/comm").read_text().strip() == "pg_receivewal":
                found["pg_receivewal"] = child
        return found

    def stop(self) -> None:
        _terminate(self.process)
        _drop_slot(self.primary, RECEIVER_SLOT)
        shutil.rmtree(self.directory, ignore_errors=True)


class BareReceivewal:
    """`pg_receivewal` alone, with or without --synchronous, same TLS connection and slot."""

    def __init__(self, primary: localpg.LocalPostgres, workdir: Path, *, prompt: bool) -> None:
        self.primary = primary
        self.prompt = prompt
        self.application_name: str | None = "bare_receivewal"
        self.directory = workdir / "bare-wal"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.primary.sql("SELECT pg_create_physical_replication_slot(%s, true)", (BARE_SLOT,))
        conninfo = make_conninfo(
            "", **self.primary.replica_params(), application_name=str(self.application_name)
        )
        argv = [
            str(self.primary.bindir / "pg_receivewal"),
            f"--directory={self.directory}",
            f"--slot={BARE_SLOT}",
            f"--dbname={conninfo}",
            "--no-loop",
            "--no-password",
            "--status-interval=1",
        ]
        if self.prompt:
            argv.append("--synchronous")
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pids(self) -> dict[str, int]:
        assert self.process is not None
        return {"pg_receivewal": self.process.pid}

    def stop(self) -> None:
        _terminate(self.process)
        _drop_slot(self.primary, BARE_SLOT)
        shutil.rmtree(self.directory, ignore_errors=True)


class PhysicalStandby:
    """A fresh pg_basebackup -R standby streaming as streaming_replica over TLS."""

    count = 0

    def __init__(self, primary: localpg.LocalPostgres, workdir: Path) -> None:
        self.primary = primary
        self.workdir = workdir
        self.application_name: str | None = "physical_standby"
        self.standby: localpg.LocalPostgres | None = None

    def start(self) -> None:
        PhysicalStandby.count += 1
        standby = self.primary.create_standby(f"standby{PhysicalStandby.count}", start=False)
        key = self.primary.root / "standby-client.key"
        if not key.exists():
            shutil.copyfile(self.primary.tls.client_key, key)
            key.chmod(0o600)
            if self.primary.run_as:
                shutil.chown(key, self.primary.run_as, self.primary.run_as)
        params = {**self.primary.replica_params(), "sslkey": str(key)}
        conninfo = make_conninfo("", **params, application_name=str(self.application_name))
        with (standby.data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as conf:
            conf.write("primary_conninfo = '{}'\n".format(conninfo.replace("'", "''")))
        standby.start()
        self.standby = standby

    def pids(self) -> dict[str, int]:
        return {}

    def stop(self) -> None:
        if self.standby is not None:
            self.standby.stop("immediate")
            shutil.rmtree(self.standby.data_dir, ignore_errors=True)
            self.standby = None


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _drop_slot(primary: localpg.LocalPostgres, slot: str) -> None:
    def dropped() -> bool:
        rows = primary.sql("SELECT active FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        if not rows:
            return True
        if rows[0][0]:
            return False
        primary.sql("SELECT pg_drop_replication_slot(%s)", (slot,))
        return True

    localreceiver.wait_until(dropped, 30, f"slot {slot} to become inactive and be dropped")


def make_component(config: str, primary: localpg.LocalPostgres, workdir: Path) -> Component:
    makers: dict[str, Callable[[], Component]] = {
        "none": Nothing,
        "receiver-async": lambda: Receiver(primary, workdir),
        "receiver-sync": lambda: Receiver(primary, workdir),
        "physical-sync": lambda: PhysicalStandby(primary, workdir),
        "bare-async": lambda: BareReceivewal(primary, workdir, prompt=True),
        "bare-async-lazy": lambda: BareReceivewal(primary, workdir, prompt=False),
    }
    return makers[config]()
