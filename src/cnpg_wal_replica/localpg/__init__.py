"""A throwaway PostgreSQL on 127.0.0.1 with TLS and certificate authentication.

Used by `demo`, the PostgreSQL tests and the benchmarks. Everything lives in one
temporary directory: a CA, a server certificate (SAN 127.0.0.1 and localhost), a
client certificate for ``streaming_replica``, the data directories, the sockets.
When running as root, the server runs as the ``postgres`` user (initdb refuses root).

    with local_postgres() as pg:            # a started primary
        pg.sql("SELECT pg_switch_wal()")
        standby = pg.create_standby()       # pg_basebackup -R, started
        standby.promote()

`machine` finds the binaries, a port and the user; `server` is one running server;
`primary` creates the first one.
"""

from cnpg_wal_replica.localpg.machine import (
    PG_VERSION,
    SUPERUSER,
    default_run_as,
    find_bindir,
    free_port,
)
from cnpg_wal_replica.localpg.primary import create_primary, local_postgres, stop_all
from cnpg_wal_replica.localpg.server import LocalPostgres, LocalPostgresError
from cnpg_wal_replica.metadata import REPLICATION_USER

__all__ = [
    "PG_VERSION",
    "REPLICATION_USER",
    "SUPERUSER",
    "LocalPostgres",
    "LocalPostgresError",
    "create_primary",
    "default_run_as",
    "find_bindir",
    "free_port",
    "local_postgres",
    "stop_all",
]
