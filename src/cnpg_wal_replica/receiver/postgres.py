"""Talking to the primary: replication commands and a few status queries (psycopg 3, async).

Replication commands (IDENTIFY_SYSTEM, TIMELINE_HISTORY, READ_REPLICATION_SLOT,
CREATE/DROP_REPLICATION_SLOT) run on a physical replication connection
(``replication=true``); status (current LSN, the slot's ``wal_status``, our walsender's
positions) on an ordinary connection to ``settings.database``. Both use the receiver's
TLS client certificate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from cnpg_wal_replica.archive.names import parse_lsn
from cnpg_wal_replica.naming import fit
from cnpg_wal_replica.receiver.command import conninfo
from cnpg_wal_replica.receiver.settings import ReceiverSettings

CONNECT_TIMEOUT_SECONDS = 5

ReplicationConnection = psycopg.AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True)
class SystemInfo:
    """IDENTIFY_SYSTEM: who the server is and where it is."""

    system_identifier: str
    timeline: int
    xlogpos: int


@dataclass(frozen=True)
class SlotInfo:
    """READ_REPLICATION_SLOT: ``restart_lsn`` is ``None`` when the slot is invalidated."""

    restart_lsn: int | None
    restart_timeline: int | None


@dataclass(frozen=True)
class ServerStatus:
    """What the primary says about itself, our slot and our walsender."""

    current_lsn: int
    in_recovery: bool
    slot_wal_status: str | None
    slot_safe_wal_size: int | None
    slot_active: bool
    walsender_state: str | None
    write_lsn: int | None
    flush_lsn: int | None
    synchronous_standby_names: str = ""


def status_application_name(settings: ReceiverSettings) -> str:
    """The status connections' `application_name`: ours plus ``-status``, within 63 bytes."""
    return fit(settings.application_name, "-status")


def _text(value: object) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _lsn(value: object) -> int | None:
    return None if value is None else parse_lsn(_text(value))


@asynccontextmanager
async def replication_connection(
    settings: ReceiverSettings,
) -> AsyncIterator[ReplicationConnection]:
    """A physical replication connection (simple query protocol only)."""
    conn = await psycopg.AsyncConnection.connect(
        conninfo(settings, replication="true", connect_timeout=str(CONNECT_TIMEOUT_SECONDS)),
        autocommit=True,
    )
    try:
        yield conn
    finally:
        await conn.close()


async def _one(conn: ReplicationConnection, command: str) -> tuple[object, ...] | None:
    cur = await conn.execute(command.encode())
    return await cur.fetchone()


async def identify_system(conn: ReplicationConnection) -> SystemInfo:
    """Run IDENTIFY_SYSTEM."""
    row = await _one(conn, "IDENTIFY_SYSTEM")
    assert row is not None
    return SystemInfo(_text(row[0]), int(_text(row[1])), parse_lsn(_text(row[2])))


async def timeline_history(conn: ReplicationConnection, timeline: int) -> tuple[str, str]:
    """TIMELINE_HISTORY: the history file's name and content (timeline must be > 1)."""
    row = await _one(conn, f"TIMELINE_HISTORY {int(timeline)}")
    assert row is not None
    return _text(row[0]), _text(row[1])


READ_REPLICATION_SLOT_SINCE = 150000
"""READ_REPLICATION_SLOT exists from PostgreSQL 15; older servers are asked in SQL."""

_SLOT_SQL = (
    "SELECT restart_lsn::text, wal_status FROM pg_replication_slots "
    "WHERE slot_name = %(slot)s AND slot_type = 'physical'"
)


async def read_slot(
    conn: ReplicationConnection, slot: str, settings: ReceiverSettings
) -> SlotInfo | None:
    """The slot's restart position; ``None`` when the slot does not exist."""
    if conn.info.server_version < READ_REPLICATION_SLOT_SINCE:
        return await read_slot_sql(settings, slot)
    row = await _one(conn, f"READ_REPLICATION_SLOT {_ident(slot)}")
    if row is None or row[0] is None:
        return None
    return SlotInfo(_lsn(row[1]), None if row[2] is None else int(_text(row[2])))


async def read_slot_sql(settings: ReceiverSettings, slot: str) -> SlotInfo | None:
    """The slot from `pg_replication_slots` over an ordinary connection (PostgreSQL 13, 14).

    CNPG's pg_hba lets `streaming_replica` connect to database `postgres` with its
    certificate; an invalidated slot (`wal_status = lost`) has no restart position.
    """
    async with await psycopg.AsyncConnection.connect(
        conninfo(
            settings,
            dbname=settings.database,
            application_name=status_application_name(settings),
            connect_timeout=str(CONNECT_TIMEOUT_SECONDS),
        ),
        autocommit=True,
    ) as conn:
        cur = await conn.execute(_SLOT_SQL, {"slot": slot})
        row = await cur.fetchone()
    if row is None:
        return None
    restart = None if row[0] is None or row[1] == "lost" else parse_lsn(str(row[0]))
    return SlotInfo(restart, None)


async def create_slot(conn: ReplicationConnection, slot: str) -> bool:
    """Create the physical slot reserving WAL now; ``False`` if it already existed."""
    try:
        await conn.execute(f"CREATE_REPLICATION_SLOT {_ident(slot)} PHYSICAL RESERVE_WAL".encode())
    except pg_errors.DuplicateObject:
        return False
    return True


async def drop_slot(conn: ReplicationConnection, slot: str) -> None:
    """Drop the slot (``WAIT`` for a walsender still holding it to go)."""
    with suppress(pg_errors.UndefinedObject):
        await conn.execute(f"DROP_REPLICATION_SLOT {_ident(slot)} WAIT".encode())


def _ident(name: str) -> str:
    # settings validate slot names as [a-z0-9_]; quoting keeps that promise explicit here
    return '"' + name.replace('"', '""') + '"'


_STATUS_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
       s.wal_status, s.safe_wal_size, coalesce(s.active, false), s.restart_lsn,
       r.state, r.write_lsn, r.flush_lsn, current_setting('synchronous_standby_names')
FROM (SELECT 1) AS one
LEFT JOIN pg_replication_slots AS s ON s.slot_name = %(slot)s
LEFT JOIN pg_stat_replication AS r ON r.pid = s.active_pid
"""


class StatusSession:
    """A kept-open ordinary connection for the status query; reconnects after any error.

    The walsender's positions need ``pg_read_all_stats``; without it the flushed position
    is the physical slot's ``restart_lsn``, which the server advances to what the
    receiver reports as flushed.
    """

    def __init__(self, settings: ReceiverSettings) -> None:
        self.settings = settings
        self.conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None

    async def fetch(self) -> ServerStatus:
        """One round trip: current LSN, our slot, our walsender."""
        try:
            if self.conn is None or self.conn.closed:
                self.conn = await psycopg.AsyncConnection.connect(
                    conninfo(
                        self.settings,
                        dbname=self.settings.database,
                        application_name=status_application_name(self.settings),
                        connect_timeout=str(CONNECT_TIMEOUT_SECONDS),
                    ),
                    autocommit=True,
                )
            cur = await self.conn.execute(_STATUS_SQL, {"slot": self.settings.slot_name})
            row = await cur.fetchone()
        except BaseException:
            await self.close()
            raise
        assert row is not None
        flush = _lsn(row[8]) or _lsn(row[5])
        return ServerStatus(
            in_recovery=bool(row[0]),
            current_lsn=_lsn(row[1]) or 0,
            slot_wal_status=row[2],
            slot_safe_wal_size=None if row[3] is None else int(row[3]),
            slot_active=bool(row[4]),
            walsender_state=row[6],
            write_lsn=_lsn(row[7]) or flush,
            flush_lsn=flush,
            synchronous_standby_names=str(row[9] or ""),
        )

    async def close(self) -> None:
        """Close the connection, if any."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(psycopg.Error, OSError):
                await conn.close()
