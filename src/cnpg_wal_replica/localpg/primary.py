"""Create a primary under one directory (TLS files, data, sockets), and stop what runs there.

`local_postgres` does both around a temporary directory.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cnpg_wal_replica import localtls
from cnpg_wal_replica.localpg.machine import (
    SUPERUSER,
    chown,
    default_run_as,
    find_bindir,
    free_port,
)
from cnpg_wal_replica.localpg.server import LocalPostgres, write_conf
from cnpg_wal_replica.metadata import REPLICATION_USER

_HBA = f"""\
local   all          all                         trust
local   replication  all                         trust
hostssl replication  {REPLICATION_USER}  all      cert
hostssl all          {REPLICATION_USER}  all      cert
"""


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
            chown(path, run_as)
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
    write_conf(data_dir / "postgresql.conf", conf, append=True)
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
