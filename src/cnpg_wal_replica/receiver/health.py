"""``/healthz``, ``/readyz`` and ``/metrics`` on a tiny asyncio HTTP/1.1 server (GET only)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.state import ReceiverState, liveness, readiness

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def respond(
    path: str, state: ReceiverState, metrics: ReceiverMetrics, now: float
) -> tuple[int, str, bytes]:
    """Status, content type and body for ``GET path``."""
    path = path.split("?", 1)[0]
    if path == "/healthz":
        ok, why = liveness(state, now)
    elif path == "/readyz":
        ok, why = readiness(state, now)
        metrics.streaming.set(1 if ok else 0)
    elif path == "/metrics":
        metrics.streaming.set(1 if readiness(state, now)[0] else 0)
        return 200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry)
    else:
        return 404, "text/plain; charset=utf-8", b"not found\n"
    return (200 if ok else 503), "text/plain; charset=utf-8", (why + "\n").encode()


async def serve_http(
    host: str,
    port: int,
    state: ReceiverState,
    metrics: ReceiverMetrics,
    clock: Callable[[], float] = time.monotonic,
) -> asyncio.Server:
    """Start listening; the caller closes the returned server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=10)
            while (await asyncio.wait_for(reader.readline(), timeout=10)) not in (
                b"\r\n",
                b"\n",
                b"",
            ):
                pass
            parts = request.decode("latin-1").split()
            if len(parts) < 2:
                return
            if parts[0] not in ("GET", "HEAD"):
                code, ctype, body = 405, "text/plain; charset=utf-8", b"GET only\n"
            else:
                code, ctype, body = respond(parts[1], state, metrics, clock())
            head = (
                f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if parts[0] == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)
