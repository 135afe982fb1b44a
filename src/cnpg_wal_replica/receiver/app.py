"""Run the receiver: HTTP endpoints, signal handling and the supervisor, until stopped."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

import structlog

from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.receiver.health import serve_http
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState
from cnpg_wal_replica.receiver.supervisor import BackgroundTaskError, Supervisor
from cnpg_wal_replica.stopsignals import stop_on_signals

if TYPE_CHECKING:
    from grpc.aio import Server as WALServer

log = structlog.get_logger("receiver")

WAL_SERVER_GRACE = 5.0
"""Seconds running fetches get to finish when the receiver stops."""

EXIT_FAILED = 1
"""Exit status when the receiver cannot start or a task of it fails: the pod restarts."""


class StartupError(WalReplicaError):
    """The receiver cannot start; the message is one line that says why and what to do."""


def check_pg_receivewal(settings: ReceiverSettings) -> None:
    """``pg_receivewal`` must be an executable file before anything starts."""
    path = settings.pg_receivewal
    if not path.is_file():
        raise StartupError(
            f"pg_receivewal not found at {path} (WAL_RECEIVER_PG_RECEIVEWAL / "
            "--pg-receivewal): install postgresql-client or point the setting at the binary, "
            "e.g. /usr/lib/postgresql/17/bin/pg_receivewal"
        )
    if not os.access(path, os.X_OK):
        raise StartupError(
            f"pg_receivewal at {path} is not executable (WAL_RECEIVER_PG_RECEIVEWAL / "
            "--pg-receivewal): fix its mode or point the setting at the binary"
        )


async def listen(
    settings: ReceiverSettings, state: ReceiverState, metrics: ReceiverMetrics
) -> asyncio.Server:
    """The HTTP server, or a `StartupError` that names the address and the setting."""
    host, port = settings.http_address
    try:
        return await serve_http(host, port, state, metrics)
    except OSError as exc:
        # asyncio wraps the bind error's text in its own; the errno's text is the reason.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StartupError(
            f"cannot listen on {host}:{port} for /metrics, /healthz and /readyz: {reason} "
            "(WAL_RECEIVER_HTTP_ADDRESS / --http-address; choose a free port, e.g. 0.0.0.0:8080)"
        ) from None


async def listen_wal(settings: ReceiverSettings, metrics: ReceiverMetrics) -> WALServer | None:
    """The WAL server when ``serve_tls_directory`` is set, else None; `StartupError` when it
    cannot start. grpc is imported only here, after its environment is prepared."""
    if settings.serve_tls_directory is None:
        return None
    from cnpg_wal_replica.transport import grpc_env

    if not grpc_env.prepare():
        log.warning("wal_server.tls12_allowed", reason="GRPC_SSL_CIPHER_SUITES was set")
    from cnpg_wal_replica.receiver.walserver import WALServerStartError, start_wal_server

    try:
        server, _ = await start_wal_server(settings, metrics)
    except WALServerStartError as exc:
        raise StartupError(str(exc)) from None
    return server


def describe(settings: ReceiverSettings) -> dict[str, object]:
    """Settings worth logging at start-up: paths and names, never file contents."""
    return {
        "host": settings.host,
        "port": settings.port,
        "user": settings.user,
        "sslmode": settings.sslmode,
        "slot": settings.slot_name,
        "application_name": settings.application_name,
        "directory": str(settings.wal_directory),
        "compression": settings.compression.argument(),
        "retention_max_age": settings.retention_max_age,
        "retention_max_size": settings.retention_max_size,
        "http": f"{settings.http_address[0]}:{settings.http_address[1]}",
        "pg_receivewal": str(settings.pg_receivewal),
        "wal_server": (
            f"{settings.serve_address[0]}:{settings.serve_address[1]}"
            if settings.serve_tls_directory
            else None
        ),
    }


async def run_receiver(
    settings: ReceiverSettings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> int:
    """Receive until SIGTERM/SIGINT (or ``stop``); exit status 0 after a clean stop.

    `StartupError` when it cannot start; `EXIT_FAILED` when a task of it failed (logged).
    """
    check_pg_receivewal(settings)
    stop = stop or asyncio.Event()
    now = time.monotonic()
    state = ReceiverState(started_at=now, heartbeat_at=now)
    metrics = ReceiverMetrics()
    server = await listen(settings, state, metrics)
    try:
        wal_server = await listen_wal(settings, metrics)
    except StartupError:
        server.close()
        raise
    remove_handlers = stop_on_signals(stop, log, "signal_received") if handle_signals else None
    log.info("receiver_starting", **describe(settings))
    try:
        await Supervisor(settings, state, metrics).run(stop)
    except BackgroundTaskError as exc:
        log.error(
            "receiver_failed",
            task=exc.task,
            error=str(exc),
            action="exiting so that the pod restarts",
            exc_info=exc.error,
        )
        return EXIT_FAILED
    finally:
        if wal_server is not None:
            await wal_server.stop(WAL_SERVER_GRACE)
        server.close()
        await server.wait_closed()
        if remove_handlers is not None:
            remove_handlers()
    log.info("receiver_stopped")
    return 0
