"""Restoring a local PostgreSQL through the sidecar: the pieces tests and the bench share.

`Sidecar` runs `cnpg-wal-replica sidecar`; `base_backup` takes a backup that holds no WAL;
`restoring_server` prepares a server on it whose ``restore_command`` is the CNPG-I client
(`cnpgi-wal-restore`) or any command given; `wait_promoted` waits for recovery to end.

The sidecar runs as root, like the receiver in these tests; in a pod both run as
PostgreSQL's user. Its socket is opened to PostgreSQL's user, who shares the sidecar's UID
in a pod.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from cnpg_wal_replica import localpg
from cnpg_wal_replica.reading import SOCKET_NAME
from support.localreceiver import wait_until
from support.walpki import SERVER_NAME


class Sidecar:
    """One `cnpg-wal-replica sidecar` process serving a socket directory."""

    def __init__(self, workdir: Path, server_port: int, tls: Path, name: str, *extra: str) -> None:
        self.socket_directory = workdir / f"{name}-plugins"
        self.spool = workdir / f"{name}-spool"
        self.log_path = workdir / f"{name}.log"
        for directory in (self.socket_directory, self.spool):
            directory.mkdir()
            give_to_postgres(directory)
        self.argv = [
            sys.executable,
            "-m",
            "cnpg_wal_replica",
            "sidecar",
            f"--server=127.0.0.1:{server_port}",
            f"--server-name={SERVER_NAME}",
            f"--tls-directory={tls}",
            f"--socket-directory={self.socket_directory}",
            f"--spool-directory={self.spool}",
            "--retry-seconds=10",
            "--log-format=json",
            *extra,
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log)
        socket = self.socket_directory / SOCKET_NAME
        wait_until(socket.exists, 20, "the sidecar's socket")
        socket.chmod(0o777)  # in a pod PostgreSQL and the sidecar share one UID

    @property
    def socket(self) -> Path:
        return self.socket_directory / SOCKET_NAME

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, object]]:
        found = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == name:
                    found.append(event)
        return found

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def give_to_postgres(path: Path) -> None:
    """Hand *path* to PostgreSQL's user when the tests run as root."""
    if localpg.default_run_as():
        shutil.chown(path, localpg.SUPERUSER, localpg.SUPERUSER)


def base_backup(primary: localpg.LocalPostgres, name: str) -> Path:
    """``pg_basebackup -X none``: every WAL record the copy needs must come from restores."""
    data_dir = primary.root / name
    subprocess.run(
        [
            str(primary.bindir / "pg_basebackup"),
            f"--pgdata={data_dir}",
            f"--host={primary.socket_dir}",
            f"--port={primary.port}",
            f"--username={localpg.SUPERUSER}",
            "--wal-method=none",
            "--checkpoint=fast",
        ],
        check=True,
        capture_output=True,
        user=primary.run_as,
        cwd=primary.root,
    )
    return data_dir


def restoring_server(
    primary: localpg.LocalPostgres,
    data_dir: Path,
    restore_command: str,
    *,
    mode: str,
    **settings: str,
) -> localpg.LocalPostgres:
    """A server on *data_dir* restoring with *restore_command* (see `through_sidecar`),
    with ``<mode>.signal`` (recovery or standby); not started."""
    name = data_dir.name
    server = localpg.LocalPostgres(
        root=primary.root,
        data_dir=data_dir,
        port=localpg.free_port(),
        socket_dir=primary.socket_dir,
        bindir=primary.bindir,
        tls=primary.tls,
        run_as=primary.run_as,
        log_file=primary.root / f"{name}.log",
    )
    conf = {
        "port": str(server.port),
        "synchronous_standby_names": "",
        "restore_command": restore_command,
        "wal_retrieve_retry_interval": "500ms",
        "log_min_messages": "info",
        **settings,
    }
    with (data_dir / "postgresql.auto.conf").open("a", encoding="utf-8") as handle:
        for key, value in conf.items():
            handle.write(f"{key} = '{value}'\n")
    signal_file = data_dir / f"{mode}.signal"
    signal_file.touch()
    give_to_postgres(signal_file)
    return server


def cluster_definition(name: str) -> dict[str, object]:
    """The Cluster the instance manager would send: a recovery from the origin's receiver."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": "dr"},
        "spec": {
            "instances": 1,
            "bootstrap": {"recovery": {"source": "origin"}},
            "externalClusters": [
                {
                    "name": "origin",
                    "plugin": {
                        "name": "cnpg-i-wal-replica.documentdb.io",
                        "parameters": {"cluster": "pg", "namespace": "prod"},
                    },
                }
            ],
        },
    }


def through_sidecar(restore_binary: Path, sidecar: Sidecar, cluster_file: Path) -> str:
    """The restore_command CNPG's instance manager stands for: WAL/Restore on the socket."""
    return f"{restore_binary} --socket {sidecar.socket} --cluster {cluster_file} %f %p"


def wait_promoted(server: localpg.LocalPostgres, timeout: float = 120) -> None:
    def promoted() -> bool:
        try:
            return server.sql("SELECT pg_is_in_recovery()")[0][0] is False
        except Exception:
            return False

    wait_until(promoted, timeout, f"{server.data_dir.name} to end recovery", interval=0.2)
