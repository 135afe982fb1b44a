"""A throwaway PostgreSQL on 127.0.0.1 with TLS and certificate authentication.

Used by `demo`, the PostgreSQL tests and the benchmarks. Everything lives in one
temporary directory: a CA, a server certificate (SAN 127.0.0.1 and localhost), a
client certificate for ``streaming_replica``, the data directories, the sockets.
When running as root, the server runs as the ``postgres`` user (initdb refuses root).

    with local_postgres() as pg:            # a started primary
        pg.sql("SELECT pg_switch_wal()")
        standby = pg.create_standby()       # pg_basebackup -R, started
        standby.promote()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnpg_wal_replica import localtls
from cnpg_wal_replica.errors import WalReplicaError

REPLICATION_USER = "streaming_replica"
SUPERUSER = "postgres"
PG_VERSION = "15"

_HBA = """\
local   all          all                         trust
local   replication  all                         trust
hostssl replication  streaming_replica  all      cert
hostssl all          streaming_replica  all      cert
"""


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<n>/bin`` that has ``postgres``, else PATH's."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin/postgres") if p.parent.parent.name.isdigit()),
        key=lambda p: int(p.parent.parent.name),
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("postgres")
    if found is None:
        raise FileNotFoundError(
            "PostgreSQL server binaries not found: install postgresql-15 "
            "(apt-get install postgresql-15) or put its bin directory on PATH"
        )
    return Path(found).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
            _chown(data_dir, self.run_as)
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
        _write_conf(data_dir / "postgresql.auto.conf", {"port": str(standby.port)}, append=True)
        if start:
            standby.start()
        return standby

    def current_lsn(self) -> int:
        """``pg_current_wal_lsn()`` as an integer."""
        from cnpg_wal_replica.archive.names import parse_lsn

        return parse_lsn(str(self.sql("SELECT pg_current_wal_lsn()")[0][0]))


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _write_conf(path: Path, settings: Mapping[str, str], *, append: bool = False) -> None:
    lines = [f"{k} = '{v}'\n" for k, v in settings.items()]
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.writelines(lines)


def default_run_as() -> str | None:
    """``postgres`` when running as root (initdb refuses root), else ``None``."""
    return SUPERUSER if os.geteuid() == 0 else None


def create_primary(
    root: Path,
    *,
    wal_segsize_mb: int = 1,
    settings: Mapping[str, str] | None = None,
    fast: bool = True,
    start: bool = True,
) -> LocalPostgres:
    """initdb a primary under ``root`` with TLS + cert auth, create the replication role."""
    bindir = find_bindir()
    run_as = default_run_as()
    root.mkdir(parents=True, exist_ok=True)
    tls = localtls.make_tls(root / "tls", server_owner=run_as)
    data_dir = root / "primary"
    socket_dir = root / "sock"
    socket_dir.mkdir(exist_ok=True)
    if run_as:
        for path in (root, socket_dir):
            _chown(path, run_as)
    pg = LocalPostgres(
        root=root,
        data_dir=data_dir,
        port=free_port(),
        socket_dir=socket_dir,
        bindir=bindir,
        tls=tls,
        run_as=run_as,
        log_file=root / "primary.log",
    )
    pg._run(
        "initdb",
        "-D",
        str(data_dir),
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
        f"--wal-segsize={wal_segsize_mb}",
    )
    conf: dict[str, str] = {
        "listen_addresses": "127.0.0.1",
        "port": str(pg.port),
        "unix_socket_directories": str(socket_dir),
        "ssl": "on",
        "ssl_cert_file": str(tls.server_cert),
        "ssl_key_file": str(tls.server_key),
        "ssl_ca_file": str(tls.ca_cert),
        "wal_level": "replica",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "hot_standby": "on",
        "min_wal_size": f"{2 * wal_segsize_mb}MB",
        "max_wal_size": f"{max(64, 32 * wal_segsize_mb)}MB",
        "log_min_messages": "warning",
    }
    if fast:
        conf.update({"fsync": "off", "synchronous_commit": "on", "full_page_writes": "off"})
    conf.update(settings or {})
    _write_conf(data_dir / "postgresql.conf", conf, append=True)
    (data_dir / "pg_hba.conf").write_text(_HBA, encoding="utf-8")
    if start:
        pg.start()
        pg.sql(f"CREATE ROLE {REPLICATION_USER} WITH REPLICATION LOGIN")
    return pg


@contextlib.contextmanager
def local_postgres(root: Path | None = None, **kwargs: Any) -> Iterator[LocalPostgres]:
    """A started primary in a temporary directory; everything stopped and removed on exit.

    Standbys created with ``create_standby`` live in the same directory and are stopped too.
    """
    tmp = Path(tempfile.mkdtemp(prefix="wal-replica-pg-")) if root is None else root
    tmp.chmod(0o711)  # the server may run as another user and must reach its files
    pg: LocalPostgres | None = None
    try:
        pg = create_primary(tmp, **kwargs)
        yield pg
    finally:
        stop_all(tmp)
        if root is None:
            shutil.rmtree(tmp, ignore_errors=True)


def stop_all(root: Path) -> None:
    """Stop every server whose data directory is directly under ``root`` (immediate mode)."""
    bindir = find_bindir()
    for pidfile in root.glob("*/postmaster.pid"):
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(pidfile.parent), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            user=default_run_as(),
        )
