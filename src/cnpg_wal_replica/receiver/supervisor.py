"""The receiver's main loop: prepare, run ``pg_receivewal``, restart, stop cleanly.

Each round:
1. `preparing.prepare`: identify the server, guard the system identifier, set diverged
   WAL aside, make sure the slot exists, resume past lost WAL when the last run said so;
2. run ``pg_receivewal --no-loop`` (exec, no shell) and log what it prints;
3. decide how long to wait before the next round: a server that is down or starting is
   retried every `FIRST_RETRY` seconds for `UNAVAILABLE_FAST_ATTEMPTS` attempts (so
   streaming is back right after a restart), then with a delay doubling up to
   `UNAVAILABLE_MAX_RETRY`; other failures back off the
   same way up to `MAX_RETRY`; a foreign directory is retried every `FOREIGN_RETRY` seconds.

A repeated failure is logged when it starts or changes, then every `REPEAT_LOG_INTERVAL`
seconds (with the number of attempts), and its end once more: not at every attempt.
A local file-system error (the WAL directory missing, read-only, full) is a storage problem
and is reported with its path, never as the server being unavailable.

Stopping (SIGTERM or SIGINT to the receiver) sends SIGINT to pg_receivewal, which then
closes its ``.partial`` file properly and exits 0; SIGTERM would kill it (status 143).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.receiver import command, monitoring, preparing
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState, storage_problem

FIRST_RETRY = 0.2
MAX_RETRY = 10.0
UNAVAILABLE_FAST_ATTEMPTS = 10
"""While the server is down, the first attempts come every `FIRST_RETRY` seconds (about
2 s in all): a restarting primary is followed within a second of accepting connections."""
UNAVAILABLE_MAX_RETRY = 5.0
"""Longest wait between attempts while the server stays down: reconnects within 5 s of it
coming back, and about 12 attempts a minute instead of 300."""
REPEAT_LOG_INTERVAL = 60.0
"""A failure that keeps repeating unchanged is logged again this often."""
FOREIGN_RETRY = 30.0
HEALTHY_RUN = 10.0
"""A run at least this long resets the backoff."""
HEARTBEAT = 5.0
"""How often the loop proves it is alive while pg_receivewal runs."""
STOP_GRACE = 30.0
"""How long pg_receivewal gets to exit after SIGINT before it is killed."""

LOST_WAL_MARK = "has already been removed"
FORK_MARK = "is not in this server's history"
_SLOT_ACTIVE_RE = re.compile(r"replication slot \"[^\"]*\" is active for PID ([0-9]+)")
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
    flat: int = 0
    """Attempts at ``first`` before the delay starts to double."""

    def next_delay(self) -> float:
        """The wait before the next attempt; grows with each consecutive failure."""
        delay = min(self.cap, self.first * 2.0 ** max(0, self.failures - self.flat))
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Back to the first (sub-second) delay."""
        self.failures = 0


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


def server_unavailable(error: BaseException) -> bool:
    """Whether a connection error means the server is down, starting or stopping.

    Only libpq's errors qualify: a local ``OSError`` (say "No such file or directory" for
    the WAL directory) is a storage problem, whatever its text.
    """
    text = str(error)
    return isinstance(error, psycopg.Error) and any(mark in text for mark in _UNAVAILABLE_MARKS)


class RepeatLog:
    """Log a repeating failure when it starts or changes, then every ``interval`` seconds.

    ``failing`` says whether an attempt deserves a log line (else it is logged at debug);
    ``recovered`` returns how long the failure lasted and how many attempts it took.
    """

    def __init__(self, interval: float = REPEAT_LOG_INTERVAL) -> None:
        self.interval = interval
        self.key: str | None = None
        self.since = 0.0
        self.logged_at = 0.0
        self.attempts = 0

    def failing(self, key: str, now: float) -> bool:
        """Record one failed attempt; whether it is worth a log line."""
        self.attempts += 1
        if key != self.key:
            if self.key is None:
                self.since = now
            self.key, self.logged_at = key, now
            return True
        if now - self.logged_at >= self.interval:
            self.logged_at = now
            return True
        return False

    def recovered(self, now: float) -> tuple[float, int] | None:
        """End of the failure: ``(seconds, attempts)``, or ``None`` if nothing was failing."""
        if self.key is None:
            return None
        result = (now - self.since, self.attempts)
        self.key, self.attempts = None, 0
        return result


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
        text = "\n".join(lines)
        self.lost_wal = LOST_WAL_MARK in text
        if ran >= HEALTHY_RUN:
            self.backoff.reset()
            self.child_failures.recovered(time.monotonic())
        delay = self.backoff.next_delay()
        if (self.lost_wal or FORK_MARK in text) and self.backoff.failures <= 2:
            delay = 0.0  # the next prepare repairs this; retry at once, but only twice
        holder = next(filter(None, map(_SLOT_ACTIVE_RE.search, lines)), None)
        if holder is not None:
            self.state.slot_in_use = (
                f"replication slot {self.settings.slot_name} is in use by another connection "
                f"(walsender PID {holder.group(1)} on the primary): an old receiver or "
                "pg_receivewal still streams from it; this receiver retries until it is free"
            )
            self.metrics.slot_active_elsewhere.set(1)
        telling = [line for line in lines if not line.endswith("error: disconnected")]
        last: str | None = holder.string if holder else (telling or lines or [""])[-1] or None
        event = "slot_active_elsewhere" if holder else "pg_receivewal_exited"
        details: dict[str, Any] = {
            "returncode": returncode,
            "ran_seconds": round(ran, 2),
            "last_error": last,
            "lost_wal": self.lost_wal,
            "retry_in": delay,
        }
        if holder is not None:
            details["walsender_pid"] = int(holder.group(1))
        repeat_key = f"{event}: {_SLOT_ACTIVE_RE.sub('PID', last or '')}"
        if self.child_failures.failing(repeat_key, time.monotonic()):
            log.warning(event, attempts=self.child_failures.attempts, **details)
        else:
            log.debug(event, attempts=self.child_failures.attempts, **details)
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
        argv = command.receivewal_argv(self.settings)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        )
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
        reader = asyncio.create_task(_read_stderr(proc, tail, quiet=quiet))
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


PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the kernel sends pg_receivewal SIGKILL when the receiver dies.

    Otherwise a receiver killed with SIGKILL (OOM, ``kill -9``) leaves an orphan that keeps
    the replication slot active, and the next receiver cannot stream until it dies. Runs in
    the child between fork and exec: no allocation-heavy work, no locks.
    """

    def preexec() -> None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the receiver died before prctl took effect
            os._exit(1)

    return preexec


async def _interrupt(proc: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
    log.info("stopping_pg_receivewal", pid=proc.pid, signal="SIGINT")
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), timeout=STOP_GRACE)
    except TimeoutError:
        log.error("pg_receivewal_kill", pid=proc.pid, after_seconds=STOP_GRACE)
        proc.kill()


async def _read_stderr(
    proc: asyncio.subprocess.Process, tail: deque[str], *, quiet: bool = False
) -> None:
    """Log pg_receivewal's lines (at debug when ``quiet``: the exit is summarised anyway)."""
    assert proc.stderr is not None
    async for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        if not line:
            continue
        tail.append(line)
        level = "warning" if "error" in line or "FATAL" in line else "info"
        if quiet:
            level = "debug"
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
