"""The receiver's main loop: prepare, run ``pg_receivewal``, restart, stop cleanly.

Each round:
1. `preparing.prepare`: identify the server, guard the system identifier, set diverged
   WAL aside, make sure the slot exists, resume past lost WAL when the last run said so;
2. run ``pg_receivewal --no-loop`` (`child_process`) and log what it prints;
3. read why it exited (`child_exit`) and decide how long to wait before the next round
   (`restarts`: the backoffs, and how often a repeating failure is logged).

A local file-system error (the WAL directory missing, read-only, full) is a storage problem
and is reported with its path, never as the server being unavailable.

Stopping (SIGTERM or SIGINT to the receiver) sends SIGINT to pg_receivewal, which then
closes its ``.partial`` file properly and exits 0; SIGTERM would kill it (status 143).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import psycopg
import structlog

from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.receiver import child_process, command, monitoring, preparing
from cnpg_wal_replica.receiver.child_exit import read_exit
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.restarts import (
    FOREIGN_RETRY,
    HEALTHY_RUN,
    UNAVAILABLE_FAST_ATTEMPTS,
    UNAVAILABLE_MAX_RETRY,
    Backoff,
    RepeatLog,
    server_unavailable,
)
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState, storage_problem

HEARTBEAT = 5.0
"""How often the loop proves it is alive while pg_receivewal runs."""

log = structlog.get_logger("receiver")


class BackgroundTaskError(WalReplicaError):
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


class Supervisor:
    """Runs pg_receivewal for one WAL directory until told to stop."""

    def __init__(
        self, settings: ReceiverSettings, state: ReceiverState, metrics: ReceiverMetrics
    ) -> None:
        self.settings = settings
        self.state = state
        self.metrics = metrics
        self.backoff = Backoff()
        self.unavailable = Backoff(cap=UNAVAILABLE_MAX_RETRY, flat=UNAVAILABLE_FAST_ATTEMPTS)
        self.failures = RepeatLog()
        self.child_failures = RepeatLog()
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
            await asyncio.wait({poller, loop}, timeout=child_process.STOP_GRACE + 5)
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
            await preparing.prepare(
                self.settings,
                self.state,
                self.metrics,
                lost_wal=self.lost_wal,
                quiet=self.child_failures.key is not None,
            )
        except preparing.ForeignArchiveError as exc:
            log.error("foreign_archive", reason=str(exc), retry_in=FOREIGN_RETRY)
            return FOREIGN_RETRY
        except psycopg.Error as exc:
            if server_unavailable(exc):
                delay = self.unavailable.next_delay()
                self._failed("server_unavailable", exc, delay, level="info")
                return delay
            delay = self.backoff.next_delay()
            self._failed("prepare_failed", exc, delay)
            return delay
        except OSError as exc:
            self.state.storage_error = storage_problem(exc)
            self.metrics.storage_error.set(1)
            delay = self.backoff.next_delay()
            self._failed("local_storage_error", exc, delay, path=exc.filename)
            return delay
        self.unavailable.reset()
        ended = self.failures.recovered(time.monotonic())
        if ended is not None:
            log.info("prepare_succeeded", after_seconds=round(ended[0], 1), attempts=ended[1])
        self.lost_wal = False
        started = time.monotonic()
        returncode, lines = await self._run_child(stop)
        ran = time.monotonic() - started
        if stop.is_set():
            return 0.0
        exited = read_exit(lines)
        self.lost_wal = exited.lost_wal
        if ran >= HEALTHY_RUN:
            self.backoff.reset()
            self.child_failures.recovered(time.monotonic())
        delay = self.backoff.next_delay()
        if (exited.lost_wal or exited.forked) and self.backoff.failures <= 2:
            delay = 0.0  # the next prepare repairs this; retry at once, but only twice
        slot_in_use = exited.slot_in_use(self.settings.slot_name)
        if slot_in_use is not None:
            self.state.slot_in_use = slot_in_use
            self.metrics.slot_active_elsewhere.set(1)
        details: dict[str, Any] = {
            "returncode": returncode,
            "ran_seconds": round(ran, 2),
            "last_error": exited.last_error,
            "lost_wal": exited.lost_wal,
            "retry_in": delay,
        }
        if exited.walsender_pid is not None:
            details["walsender_pid"] = exited.walsender_pid
        if self.child_failures.failing(exited.repeat_key, time.monotonic()):
            log.warning(exited.event, attempts=self.child_failures.attempts, **details)
        else:
            log.debug(exited.event, attempts=self.child_failures.attempts, **details)
        return delay

    def _failed(
        self, event: str, error: BaseException, delay: float, level: str = "warning", **extra: Any
    ) -> None:
        """One failed attempt: logged when new or changed, then every REPEAT_LOG_INTERVAL."""
        text = _one_line(error)
        attempts = self.failures.attempts + 1
        if self.failures.failing(f"{event}: {text}", time.monotonic()):
            getattr(log, level)(event, error=text, retry_in=delay, attempts=attempts, **extra)
        else:
            log.debug(event, error=text, retry_in=delay, attempts=attempts, **extra)

    async def _run_child(self, stop: asyncio.Event) -> tuple[int, list[str]]:
        proc = await child_process.start(command.receivewal_argv(self.settings))
        if self.runs:
            self.metrics.restarts.inc()
            self.state.restarts += 1
        self.runs += 1
        self.state.child_running = True
        quiet = self.child_failures.key is not None  # in a streak of failed runs
        (log.debug if quiet else log.info)(
            "pg_receivewal_started",
            pid=proc.pid,
            slot=self.settings.slot_name,
            directory=str(self.settings.wal_directory),
        )
        tail: deque[str] = deque(maxlen=20)
        reader = asyncio.create_task(child_process.read_stderr(proc, tail, quiet=quiet))
        waiter = asyncio.create_task(proc.wait())
        stopper = asyncio.create_task(stop.wait())
        try:
            while not (waiter.done() or stopper.done()):
                self.state.heartbeat_at = time.monotonic()
                await asyncio.wait(
                    {waiter, stopper}, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED
                )
                if not waiter.done() and self.state.slot_in_use:
                    log.info("slot_acquired", slot=self.settings.slot_name, pid=proc.pid)
                    self.state.slot_in_use = None
                    self.metrics.slot_active_elsewhere.set(0)
            if not waiter.done():
                await child_process.interrupt(proc, waiter)
            returncode = await waiter
            await reader
        finally:
            stopper.cancel()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            self.state.child_running = False
        return returncode, list(tail)


async def _wait(stop: asyncio.Event, seconds: float, state: ReceiverState) -> None:
    """Sleep up to ``seconds`` (less when stopped), proving liveness on the way."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        state.heartbeat_at = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=min(left, HEARTBEAT))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
