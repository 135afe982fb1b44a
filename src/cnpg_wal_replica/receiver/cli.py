"""``cnpg-wal-replica receive``: options mirror the ``WAL_RECEIVER_*`` environment.

Imports stay light here; settings, psycopg and the supervisor load inside the command.
"""

from __future__ import annotations

from typing import Any

import click

from cnpg_wal_replica.envsettings import env_name
from cnpg_wal_replica.metadata import (
    DEFAULT_SLOT_NAME,
    POSTGRES_PORT,
    RECEIVER_ENV_PREFIX,
    RECEIVER_FLUSH,
    RECEIVER_HTTP_PORT,
    REPLICATION_USER,
)
from cnpg_wal_replica.reading import WAL_PORT

OPTIONS: tuple[tuple[str, str], ...] = (
    ("host", "PostgreSQL host (the cluster's -rw Service); required"),
    ("port", f"PostgreSQL port [{POSTGRES_PORT}]"),
    ("database", "database for status queries [postgres]"),
    ("user", f"role to connect as [{REPLICATION_USER}]"),
    ("sslmode", "libpq sslmode [verify-full]"),
    ("sslrootcert", "CA certificate file"),
    ("sslcert", "client certificate file"),
    ("sslkey", "client key file"),
    ("slot-name", f"physical replication slot [{DEFAULT_SLOT_NAME}]"),
    ("application-name", "application_name the primary sees; required"),
    ("wal-directory", "directory the WAL is written to; required"),
    ("compression", "none, gzip, gzip:N, lz4 or lz4:N [none]"),
    ("retention-max-age", "delete segments older than this, e.g. 7d [none]"),
    ("retention-max-size", "keep the archive under this size, e.g. 50Gi [none]"),
    (
        "http-address",
        f"listen address of /metrics, /healthz, /readyz [0.0.0.0:{RECEIVER_HTTP_PORT}]",
    ),
    ("log-format", "json or console [json unless stderr is a terminal]"),
    ("pg-receivewal", "path of pg_receivewal [found on PATH or /usr/lib/postgresql]"),
    ("namespace", "namespace of the Cluster; its readers may fetch WAL [none]"),
    ("serve-tls-directory", "tls.crt, tls.key, ca.crt of the WAL server [no WAL server]"),
    ("serve-address", f"listen address of the WAL server [0.0.0.0:{WAL_PORT}]"),
    ("readers", "Clusters of other namespaces that may read: ns/cluster or ns/*, comma [none]"),
)
FLAGS: tuple[tuple[str, str], ...] = (("verbose", "pass --verbose to pg_receivewal [false]"),)


def _env(name: str) -> str:
    return env_name(RECEIVER_ENV_PREFIX, name.replace("-", "_"))


def _with_options(func: Any) -> Any:
    for name, text in reversed(FLAGS):
        func = click.option(
            f"--{name}/--no-{name}", default=None, help=f"{text} (env {_env(name)})"
        )(func)
    for name, text in reversed(OPTIONS):
        func = click.option(f"--{name}", default=None, help=f"{text} (env {_env(name)})")(func)
    return func


@click.command(
    "receive",
    help=f"Stream WAL from the primary with a supervised pg_receivewal.\n\n{RECEIVER_FLUSH}; "
    "list the receiver's application name in the primary's synchronous_standby_names to make "
    "it a synchronous standby.",
)
@_with_options
def receive(**values: Any) -> None:
    """Stream WAL from the primary with a supervised pg_receivewal."""
    import asyncio

    from cnpg_wal_replica import logs
    from cnpg_wal_replica.receiver.app import EXIT_FAILED, StartupError, run_receiver
    from cnpg_wal_replica.receiver.settings import SettingsError, load_settings

    try:
        settings = load_settings(values)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    logs.configure(settings.log_format)
    try:
        code = asyncio.run(run_receiver(settings))
    except StartupError as exc:
        click.echo(f"Error: {exc}", err=True)
        code = EXIT_FAILED
    raise SystemExit(code)
