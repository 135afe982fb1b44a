"""``cnpg-wal-replica sidecar``: options mirror the ``WAL_READER_*`` environment.

Imports stay light here; grpc loads inside the command, after its environment is set.
"""

from __future__ import annotations

from typing import Any

import click

from cnpg_wal_replica.envsettings import env_name
from cnpg_wal_replica.metadata import READER_ENV_PREFIX

OPTIONS: tuple[tuple[str, str], ...] = (
    ("server", "host:port of the origin receiver's WAL server; required"),
    ("server-name", "name the server certificate must carry [the host of --server]"),
    ("tls-directory", "tls.crt, tls.key, ca.crt of this reader [/etc/wal-reader/tls]"),
    ("socket-directory", "where the instance manager finds plugin sockets [/plugins]"),
    ("spool-directory", "where prefetched segments wait; required"),
    ("prefetch", "segments fetched ahead of replay, 0-64 [4]"),
    ("retry-seconds", "how long a transient failure is retried [60]"),
    ("log-format", "json or console [json unless stderr is a terminal]"),
)


def _env(name: str) -> str:
    return env_name(READER_ENV_PREFIX, name.replace("-", "_"))


def _with_options(func: Any) -> Any:
    for name, text in reversed(OPTIONS):
        func = click.option(f"--{name}", default=None, help=f"{text} (env {_env(name)})")(func)
    return func


@click.command(
    "sidecar",
    help="Serve CNPG-I WAL/Restore on a unix socket in a reading Cluster's pods, fetching "
    "WAL from an origin's receiver over mutual TLS.",
)
@_with_options
def sidecar(**values: Any) -> None:
    """Serve WAL/Restore to the instance manager."""
    import asyncio

    from cnpg_wal_replica import logs
    from cnpg_wal_replica.sidecar.settings import SettingsError, load_settings
    from cnpg_wal_replica.transport import grpc_env

    try:
        settings = load_settings(values)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    grpc_env.prepare()  # before anything imports grpc
    logs.configure(settings.log_format)
    from cnpg_wal_replica.sidecar.app import StartupError, run_sidecar

    try:
        code = asyncio.run(run_sidecar(settings))
    except StartupError as exc:
        click.echo(f"Error: {exc}", err=True)
        code = 1
    raise SystemExit(code)
