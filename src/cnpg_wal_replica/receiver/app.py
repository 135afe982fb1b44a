"""Run the receiver: HTTP endpoints, signal handling and the supervisor, until stopped."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import structlog

from cnpg_wal_replica.receiver.health import serve_http
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState
from cnpg_wal_replica.receiver.supervisor import Supervisor

log = structlog.get_logger("receiver")


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
        "synchronous": settings.synchronous,
        "compression": settings.compression.argument(),
        "retention_max_age": settings.retention_max_age,
        "retention_max_size": settings.retention_max_size,
        "http": f"{settings.http_address[0]}:{settings.http_address[1]}",
        "pg_receivewal": str(settings.pg_receivewal),
    }


async def run_receiver(
    settings: ReceiverSettings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> int:
    """Receive until SIGTERM/SIGINT (or ``stop``); exit status 0 after a clean stop."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _stopper(stop, signum))
    now = time.monotonic()
    state = ReceiverState(started_at=now, heartbeat_at=now)
    metrics = ReceiverMetrics()
    host, port = settings.http_address
    server = await serve_http(host, port, state, metrics)
    log.info("receiver_starting", **describe(settings))
    try:
        await Supervisor(settings, state, metrics).run(stop)
    finally:
        server.close()
        await server.wait_closed()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    log.info("receiver_stopped")
    return 0


def _stopper(stop: asyncio.Event, signum: int) -> Callable[[], None]:
    def handler() -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stop.set()

    return handler
