"""`drop-slot`: drop the receiver's replication slot; run by the janitor's Job.

Reads the same `WAL_RECEIVER_*` connection settings as `receive`. A slot that is still
active (the receiver pod is terminating) makes it exit non-zero so the Job retries; a slot
that does not exist is success.
"""

from __future__ import annotations

import os
import sys

import click

from cnpg_wal_replica.metadata import POSTGRES_PORT, RECEIVER_ENV_PREFIX, REPLICATION_USER
from cnpg_wal_replica.specs.names import drop_slot_application_name

PREFIX = RECEIVER_ENV_PREFIX


def conninfo_from_env(env: dict[str, str]) -> str:
    """A replication conninfo from the receiver's environment (values quoted by psycopg)."""
    from psycopg.conninfo import make_conninfo

    def get(key: str, default: str = "") -> str:
        return env.get(PREFIX + key, default)

    return make_conninfo(
        host=get("HOST"),
        port=get("PORT", str(POSTGRES_PORT)),
        user=get("USER", REPLICATION_USER),
        sslmode=get("SSLMODE", "verify-full"),
        sslrootcert=get("SSLROOTCERT"),
        sslcert=get("SSLCERT"),
        sslkey=get("SSLKEY"),
        application_name=drop_slot_application_name(get("APPLICATION_NAME", "wal-receiver")),
        replication="true",
        connect_timeout="10",
    )


def drop_slot(conninfo: str, slot: str) -> str:
    """Drop ``slot``: returns "dropped" or "absent"; raises when it is still in use.

    Works on every PostgreSQL version CNPG supports (no READ_REPLICATION_SLOT, which
    only exists from 15).
    """
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(conninfo, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("DROP_REPLICATION_SLOT {}").format(sql.Identifier(slot)))
        except errors.UndefinedObject:
            return "absent"
        return "dropped"


@click.command("drop-slot")
def drop_slot_command() -> None:
    """Drop the replication slot named by WAL_RECEIVER_SLOT_NAME on WAL_RECEIVER_HOST."""
    import psycopg

    env = dict(os.environ)
    slot = env.get(PREFIX + "SLOT_NAME", "")
    if not slot or not env.get(PREFIX + "HOST"):
        raise click.ClickException("WAL_RECEIVER_HOST and WAL_RECEIVER_SLOT_NAME must be set")
    try:
        outcome = drop_slot(conninfo_from_env(env), slot)
    except psycopg.Error as exc:
        click.echo(f"cannot drop slot {slot!r} yet: {exc}".strip(), err=True)
        sys.exit(1)
    click.echo(f"slot {slot!r} {outcome}")
