"""The slot look-up for PostgreSQL 13/14 (SQL) agrees with READ_REPLICATION_SLOT (15+).

Only PostgreSQL 15 is installed here, so the SQL path is exercised directly against it and
compared with the replication command; the version switch itself is checked by faking only
the reported server version.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest import mock

import pytest

from cnpg_wal_replica import localpg
from cnpg_wal_replica.receiver import postgres
from cnpg_wal_replica.receiver.settings import ReceiverSettings

pytestmark = pytest.mark.postgres


def settings_for(pg: localpg.LocalPostgres, workdir: Path) -> ReceiverSettings:
    params = pg.replica_params()
    return ReceiverSettings(
        host=params["host"],
        port=int(params["port"]),
        sslrootcert=params["sslrootcert"],
        sslcert=params["sslcert"],
        sslkey=params["sslkey"],
        application_name="fallback-test",
        wal_directory=workdir / "wal",
        pg_receivewal=pg.bindir / "pg_receivewal",
    )


async def both(settings: ReceiverSettings, slot: str) -> tuple[object, object]:
    async with postgres.replication_connection(settings) as conn:
        native = await postgres.read_slot(conn, slot, settings)
    return native, await postgres.read_slot_sql(settings, slot)


def test_sql_lookup_matches_the_replication_command(
    primary: localpg.LocalPostgres, workdir: Path
) -> None:
    settings = settings_for(primary, workdir)
    primary.sql("SELECT pg_create_physical_replication_slot('fallback', true)")
    native, sql = asyncio.run(both(settings, "fallback"))
    assert isinstance(native, postgres.SlotInfo)
    assert isinstance(sql, postgres.SlotInfo)
    assert native.restart_lsn is not None
    assert sql.restart_lsn == native.restart_lsn
    assert asyncio.run(both(settings, "missing")) == (None, None)


def test_old_servers_use_the_sql_lookup(primary: localpg.LocalPostgres, workdir: Path) -> None:
    settings = settings_for(primary, workdir)
    primary.sql("SELECT pg_create_physical_replication_slot('old_server', true)")

    async def as_if_14() -> object:
        async with postgres.replication_connection(settings) as conn:
            with mock.patch.object(type(conn.info), "server_version", 140011):
                return await postgres.read_slot(conn, "old_server", settings)

    with mock.patch.object(postgres, "read_slot_sql", wraps=postgres.read_slot_sql) as sql:
        found = asyncio.run(as_if_14())
    sql.assert_called_once()
    assert isinstance(found, postgres.SlotInfo)
    assert found.restart_lsn is not None
    assert found.restart_timeline is None
