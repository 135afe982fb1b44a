"""One local PostgreSQL server (primary or standby): its tools, its SQL, its standbys.

Runs the server's own tools (``pg_ctl``, ``pg_basebackup``) as the user the data
directory belongs to; SQL goes over the Unix socket as the superuser (trust).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnpg_wal_replica import localtls
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.localpg.machine import SUPERUSER, chown, free_port
from cnpg_wal_replica.metadata import REPLICATION_USER


class LocalPostgresError(WalReplicaError, RuntimeError):
    """A PostgreSQL tool failed; the message carries its stderr."""


@dataclass
class LocalPostgres:
    """One local PostgreSQL server (primary or standby) and how to reach it."""

    root: Path
    data_dir: Path
    port: int
    socket_dir: Path
    bindir: Path
    tls: localtls.TlsFiles
    run_as: str | None = None
    log_file: Path = field(default=Path())

    # ---- connection strings -------------------------------------------------
    def superuser_conninfo(self, dbname: str = "postgres") -> str:
        """Superuser over the Unix socket (trust)."""
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} dbname={dbname}"

    def replica_params(self, host: str = "127.0.0.1", port: int | None = None) -> dict[str, str]:
        """libpq parameters for ``streaming_replica`` over TLS with verify-full."""
        return {
            "host": host,
            "port": str(port or self.port),
            "user": REPLICATION_USER,
            "sslmode": "verify-full",
            "sslrootcert": str(self.tls.ca_cert),
            "sslcert": str(self.tls.client_cert),
            "sslkey": str(self.tls.client_key),
        }

    # ---- process control ----------------------------------------------------
    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]],
            check=False,
            capture_output=True,
            text=True,
            user=self.run_as,
            cwd=self.root,
        )
        if check and done.returncode != 0:
            raise LocalPostgresError(
                f"{argv[0]} failed with status {done.returncode}: {done.stderr.strip()}"
            )
        return done

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``, ``smart`` or ``immediate``); no error when stopped."""
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop then start."""
        self.stop(mode)
        self.start()

    def reload(self) -> None:
        """Re-read the configuration."""
        self._run("pg_ctl", "-D", str(self.data_dir), "reload")

    def is_running(self) -> bool:
        """Whether the postmaster runs."""
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def promote(self) -> None:
        """Promote a standby and wait until it accepts writes."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60", "promote")

    # ---- SQL ------------------------------------------------------------------
    def sql(self, query: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement as superuser (autocommit); the rows, if any."""
        import psycopg

        with psycopg.connect(self.superuser_conninfo(), autocommit=True) as conn:
            cur = conn.execute(query.encode(), params)
            return list(cur.fetchall()) if cur.description else []

    def set_config(self, **settings: str) -> None:
        """``ALTER SYSTEM SET`` each setting, then reload."""
        for name, value in settings.items():
            self.sql(f"ALTER SYSTEM SET {name} = '{value}'")
        self.reload()

    def create_standby(self, name: str = "standby", *, start: bool = True) -> LocalPostgres:
        """A physical standby of this server (``pg_basebackup -R``), sharing the TLS files."""
        data_dir = self.root / name
        if self.run_as:
            data_dir.mkdir(mode=0o700)
            chown(data_dir, self.run_as)
        self._run(
            "pg_basebackup",
            "-D",
            str(data_dir),
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        standby = LocalPostgres(
            root=self.root,
            data_dir=data_dir,
            port=free_port(),
            socket_dir=self.socket_dir,
            bindir=self.bindir,
            tls=self.tls,
            run_as=self.run_as,
            log_file=self.root / f"{name}.log",
        )
        write_conf(data_dir / "postgresql.auto.conf", {"port": str(standby.port)}, append=True)
        if start:
            standby.start()
        return standby

    def current_lsn(self) -> int:
        """``pg_current_wal_lsn()`` as an integer."""
        from cnpg_wal_replica.archive.names import parse_lsn

        return parse_lsn(str(self.sql("SELECT pg_current_wal_lsn()")[0][0]))


def write_conf(path: Path, settings: Mapping[str, str], *, append: bool = False) -> None:
    lines = [f"{k} = '{v}'\n" for k, v in settings.items()]
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.writelines(lines)
