"""Running `cnpg-wal-replica receive` against a local PostgreSQL, for tests and benchmarks.

`receiver_env` is the environment the plugin's Deployment would set (the `WAL_RECEIVER_*`
contract), pointed at a `localpg` server; `wait_until` polls for a condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cnpg_wal_replica import localpg
from cnpg_wal_replica.receiver.settings import ReceiverSettings


def receiver_env(
    pg: localpg.LocalPostgres, directory: Path, application_name: str, **overrides: str
) -> dict[str, str]:
    """`WAL_RECEIVER_*` settings streaming from ``pg`` into ``directory``.

    ``overrides`` are settings by their lower-case name (``slot_name="x"``); a name that is
    not a setting is an error (the receiver would ignore its variable silently).
    """
    unknown = sorted(set(overrides) - set(ReceiverSettings.model_fields))
    if unknown:
        raise TypeError(f"not receiver settings: {', '.join(unknown)}")
    params = pg.replica_params()
    env = {
        "WAL_RECEIVER_HOST": params["host"],
        "WAL_RECEIVER_PORT": params["port"],
        "WAL_RECEIVER_SSLROOTCERT": params["sslrootcert"],
        "WAL_RECEIVER_SSLCERT": params["sslcert"],
        "WAL_RECEIVER_SSLKEY": params["sslkey"],
        "WAL_RECEIVER_APPLICATION_NAME": application_name,
        "WAL_RECEIVER_WAL_DIRECTORY": str(directory),
        "WAL_RECEIVER_HTTP_ADDRESS": f"127.0.0.1:{_port_other_than(pg.port)}",
        "WAL_RECEIVER_LOG_FORMAT": "json",
        "WAL_RECEIVER_PG_RECEIVEWAL": str(pg.bindir / "pg_receivewal"),
    }
    env.update({"WAL_RECEIVER_" + k.upper(): v for k, v in overrides.items()})
    return env


def _port_other_than(taken: int) -> int:
    """A free port that is not *taken*: a stopped server's port is free, and a receiver
    listening on it would then dial its own HTTP server (seen once in CI: a TLS handshake
    against /metrics timed out instead of the connection being refused)."""
    while (port := localpg.free_port()) == taken:
        continue
    return port


def wait_until(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``predicate`` until it returns something truthy; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
