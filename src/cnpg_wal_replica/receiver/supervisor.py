"""The receiver's main loop: prepare, run ``pg_receivewal``, restart, stop cleanly.

Each round:
1. `preparing.prepare`: identify the server, guard the system identifier, set diverged
   WAL aside, make sure the slot exists, resume past lost WAL when the last run said so;
2. run ``pg_receivewal --no-loop`` (exec, no shell) and log what it prints;
3. decide how long to wait before the next round: a server that is down or starting is
   polled every `UNAVAILABLE_RETRY` seconds (so streaming is back right after it accepts
   connections); other failures back off exponentially from `FIRST_RETRY` up to
   `MAX_RETRY`; a foreign directory is retried every `FOREIGN_RETRY` seconds.

Stopping (SIGTERM or SIGINT to the receiver) sends SIGINT to pg_receivewal, which then
closes its ``.partial`` file properly and exits 0; SIGTERM would kill it (status 143).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from dataclasses import dataclass

import psycopg
import structlog

from cnpg_wal_replica.receiver import command, monitoring, preparing
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState

FIRST_RETRY = 0.2
MAX_RETRY = 10.0
UNAVAILABLE_RETRY = 0.2
FOREIGN_RETRY = 30.0
HEALTHY_RUN = 10.0
"""A run at least this long resets the backoff."""
HEARTBEAT = 5.0
"""How often the loop proves it is alive while pg_receivewal runs."""
STOP_GRACE = 30.0
"""How long pg_receivewal gets to exit after SIGINT before it is killed."""

LOST_WAL_MARK = "has already been removed"
FORK_MARK = "is not in this server's history"
_UNAVAILABLE_MARKS = (
    "Connection refused",
    "starting up",
    "shutting down",
    "No such file",
    "not yet accepting",
    "in recovery mode",
    "Connection reset",
)

log = structlog.get_logger("receiver")


@dataclass
class Backoff:
    """Capped exponential backoff; `reset` after a healthy run (kopf's throttler shape)."""

    first: float = FIRST_RETRY
    cap: float = MAX_RETRY
    failures: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt; grows with each consecutive failure."""
        delay = min(self.cap, self.first * 2.0**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Back to the first (sub-second) delay."""
        self.failures = 0


class BackgroundTaskError(Exception):
    """A task of the receiver ended unexpectedly; the receiver must exit (non-zero)."""

    def __init__(self, task: str, error: BaseException | None) -> None:
        self.task = task
        self.error = error
        what = (
            "returned before the receiver was stopped"
            if error is None
            else (f"failed: {type(error).__name__}: {_one_line(error)}")
        )
        super().__init__(f"{task} {what}")


def server_unavailable(error: BaseException) -> bool:
    """Whether a connection error means the server is down, starting or stopping."""
    text = str(error)
    return any(mark in text for mark in _UNAVAILABLE_MARKS)


class Supervisor:
    """Runs pg_receivewal for one WAL directory until told to stop."""

    def __init__(
        self, settings: ReceiverSettings, state: ReceiverState, metrics: ReceiverMetrics
    ) -> None:
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.backoff = Backoff()
        self.lost_wal = False
        self.runs = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until ``stop`` is set; returns after pg_receivewal has exited.

        The status poller runs beside the loop. If either dies of an unexpected error, the
        other is stopped (pg_receivewal gets its clean SIGINT) and that error is raised
        (as `BackgroundTaskError`), so the receiver exits non-zero and the pod restarts: no
        task may die silently while the other keeps the process looking alive.
        """
        inner = asyncio.Event()
        poller = asyncio.create_task(
            monitoring.poll(self.settings, self.state, self.metrics, inner), name="status poller"
        )
        loop = asyncio.create_task(self._loop(inner), name="supervisor loop")
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({poller, loop, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            inner.set()
            stopper.cancel()
            await asyncio.wait({poller, loop}, timeout=STOP_GRACE + 5)
            for task in (poller, loop):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        for task in (loop, poller):
            if task.cancelled():
                continue
            error = task.exception()
            if error is not None:
                raise BackgroundTaskError(task.get_name(), error) from error
        if not stop.is_set():
            raise BackgroundTaskError(poller.get_name(), None)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.state.heartbeat_at = time.monotonic()
            delay = await self._round(stop)
            if delay > 0:
                await _wait(stop, delay, self.state)

    async def _round(self, stop: asyncio.Event) -> float:
        try:
            await preparing.prepare(self.settings, self.state, self.metrics, lost_wal=self.lost_wal)
        except preparing.ForeignArchiveError as exc:
            log.error("foreign_archive", reason=str(exc), retry_in=FOREIGN_RETRY)
            return FOREIGN_RETRY
        except (psycopg.Error, OSError) as exc:
            if server_unavailable(exc):
                log.info("server_unavailable", error=_one_line(exc))
                return UNAVAILABLE_RETRY
            delay = self.backoff.next_delay()
            log.warning("prepare_failed", error=_one_line(exc), retry_in=delay)
            return delay
        self.lost_wal = False
        started = time.monotonic()
        returncode, lines = await self._run_child(stop)
        ran = time.monotonic() - started
        if stop.is_set():
            return 0.0
        text = "\n".join(lines)
        self.lost_wal = LOST_WAL_MARK in text
        if ran >= HEALTHY_RUN:
            self.backoff.reset()
        delay = self.backoff.next_delay()
        if (self.lost_wal or FORK_MARK in text) and self.backoff.failures <= 2:
            delay = 0.0  # the next prepare repairs this; retry at once, but only twice
        log.warning(
            "pg_receivewal_exited",
            returncode=returncode,
            ran_seconds=round(ran, 2),
            last_error=lines[-1] if lines else None,
            lost_wal=self.lost_wal,
            retry_in=delay,
        )
        return delay

    async def _run_child(self, stop: asyncio.Event) -> tuple[int, list[str]]:
        argv = command.receivewal_argv(self.settings)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        if self.runs:
            self.metrics.restarts.inc()
            self.state.restarts += 1
        self.runs += 1
        self.state.child_running = True
        log.info(
            "pg_receivewal_started",
            pid=proc.pid,
            slot=self.settings.slot_name,
            directory=str(self.settings.wal_directory),
        )
        tail: deque[str] = deque(maxlen=20)
        reader = asyncio.create_task(_read_stderr(proc, tail))
        waiter = asyncio.create_task(proc.wait())
        stopper = asyncio.create_task(stop.wait())
        try:
            while not (waiter.done() or stopper.done()):
                self.state.heartbeat_at = time.monotonic()
                await asyncio.wait(
                    {waiter, stopper}, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED
                )
            if not waiter.done():
                await _interrupt(proc, waiter)
            returncode = await waiter
            await reader
        finally:
            stopper.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            self.state.child_running = False
        return returncode, list(tail)


async def _interrupt(proc: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
    log.info("stopping_pg_receivewal", pid=proc.pid, signal="SIGINT")
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), timeout=STOP_GRACE)
    except TimeoutError:
        log.error("pg_receivewal_kill", pid=proc.pid, after_seconds=STOP_GRACE)
        proc.kill()


async def _read_stderr(proc: asyncio.subprocess.Process, tail: deque[str]) -> None:
    assert proc.stderr is not None
    async for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        if not line:
            continue
        tail.append(line)
        level = "warning" if "error" in line or "FATAL" in line else "info"
        getattr(log, level)("pg_receivewal", message=line)


async def _wait(stop: asyncio.Event, seconds: float, state: ReceiverState) -> None:
    """Sleep up to ``seconds`` (less when stopped), proving liveness on the way."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        state.heartbeat_at = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(left, HEARTBEAT))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
