"""Readiness and liveness rules, the HTTP responses, backoff and error classification."""

from __future__ import annotations

import asyncio

import httpx
import psycopg

from cnpg_wal_replica.archive.state import ArchiveState
from cnpg_wal_replica.receiver.health import respond, serve_http
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.postgres import SystemInfo
from cnpg_wal_replica.receiver.preparing import check_identity, parse_size_setting
from cnpg_wal_replica.receiver.restarts import (
    UNAVAILABLE_FAST_ATTEMPTS,
    UNAVAILABLE_MAX_RETRY,
    Backoff,
    RepeatLog,
    server_unavailable,
)
from cnpg_wal_replica.receiver.state import ReceiverState, liveness, readiness, storage_problem


def streaming_state(now: float = 100.0) -> ReceiverState:
    state = ReceiverState(
        started_at=0.0,
        heartbeat_at=now,
        child_running=True,
        status_at=now,
        connected=True,
        current_lsn=1000,
    )
    state.record_flush(1000, now)
    return state


def test_ready_when_streaming_and_caught_up() -> None:
    assert readiness(streaming_state(), 100.0) == (True, "streaming, caught up")


def test_ready_while_behind_but_progressing_then_stalled() -> None:
    state = streaming_state()
    state.current_lsn = 5000
    assert readiness(state, 110.0)[0]
    state.status_at = 140.0
    ok, why = readiness(state, 140.0)
    assert not ok
    assert why.startswith("stalled: 4000 bytes behind")


def test_not_ready_reasons() -> None:
    state = streaming_state()
    state.blocked_reason = "WAL directory holds system 42"
    assert readiness(state, 100.0) == (False, "WAL directory holds system 42")
    state = streaming_state()
    state.child_running = False
    assert readiness(state, 100.0) == (False, "pg_receivewal is not running")
    state = streaming_state()
    assert not readiness(state, 200.0)[0]  # status too old
    state.connected = False
    state.status_at = 200.0
    assert "not connected" in readiness(state, 200.0)[1]


def test_liveness_follows_heartbeat() -> None:
    state = streaming_state()
    assert liveness(state, 110.0)[0]
    assert not liveness(state, 200.0)[0]


def test_respond_routes() -> None:
    metrics = ReceiverMetrics()
    state = streaming_state()
    assert respond("/healthz", state, metrics, 100.0)[0] == 200
    assert respond("/readyz?verbose", state, metrics, 100.0)[0] == 200
    code, ctype, body = respond("/metrics", state, metrics, 100.0)
    assert code == 200
    assert ctype.startswith("text/plain")
    assert b"cnpg_wal_replica_receiver_ready 1.0" in body
    assert respond("/nope", state, metrics, 100.0)[0] == 404
    state.child_running = False
    assert respond("/readyz", state, metrics, 100.0)[:1] == (503,)


async def test_http_server_answers() -> None:
    state = streaming_state()
    server = await serve_http("127.0.0.1", 0, state, ReceiverMetrics(), clock=lambda: 100.0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            posted = await client.post(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200
        assert ready.text == "streaming, caught up\n"
        assert posted.status_code == 405
    finally:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0)


def test_backoff_is_sub_second_first_and_capped() -> None:
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(10)]
    assert delays[0] < 1.0
    assert max(delays) == 10.0
    assert delays == sorted(delays)
    backoff.reset()
    assert backoff.next_delay() == delays[0]


def test_server_unavailable_classification() -> None:
    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert server_unavailable(refused)
    assert server_unavailable(
        psycopg.OperationalError("FATAL:  the database system is starting up")
    )
    assert not server_unavailable(psycopg.OperationalError("SSL error: certificate verify failed"))


def test_local_file_errors_are_never_the_server_being_unavailable() -> None:
    missing = FileNotFoundError(2, "No such file or directory", "/var/lib/wal")
    assert not server_unavailable(missing)
    assert "cannot use the WAL directory: /var/lib/wal: No such file or directory" in (
        storage_problem(missing)
    )


def test_repeated_failures_are_logged_at_start_change_and_periodically() -> None:
    repeats = RepeatLog(interval=60)
    logged = [repeats.failing("server_unavailable: refused", t) for t in (0, 0.2, 0.6, 1.4, 59)]
    assert logged == [True, False, False, False, False]
    assert repeats.failing("server_unavailable: refused", 61)
    assert repeats.failing("server_unavailable: starting up", 62)  # changed
    assert repeats.recovered(70) == (70, 7)
    assert repeats.recovered(71) is None


def test_unavailable_backoff_keeps_a_sub_second_first_retry_and_is_capped() -> None:
    backoff = Backoff(cap=UNAVAILABLE_MAX_RETRY, flat=UNAVAILABLE_FAST_ATTEMPTS)
    delays = [backoff.next_delay() for _ in range(30)]
    assert delays[:UNAVAILABLE_FAST_ATTEMPTS] == [0.2] * UNAVAILABLE_FAST_ATTEMPTS
    assert delays == sorted(delays)
    assert max(delays) == UNAVAILABLE_MAX_RETRY
    assert sum(delays[:17]) > 14  # at most 17 attempts in 14 s (was 70)
    assert sum(delays[:27]) > 60  # about 12 a minute once the outage lasts


def test_identity_check() -> None:
    info = SystemInfo("123", 1, 0)
    assert check_identity(ArchiveState(), info, 2**24) is None
    assert check_identity(ArchiveState("123", 1, 2**24), info, 2**24) is None
    assert "holds system 999" in (check_identity(ArchiveState("999"), info, 2**24) or "")
    assert "segments" in (check_identity(ArchiveState("123", 1, 2**20), info, 2**24) or "")


def test_parse_size_setting() -> None:
    assert parse_size_setting("16MB") == 2**24
    assert parse_size_setting("1GB") == 2**30
    assert parse_size_setting("8192") == 8192
