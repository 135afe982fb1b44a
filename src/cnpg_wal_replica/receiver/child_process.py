"""pg_receivewal as a child process: started tied to the receiver, its lines logged, stopped.

The child gets no stdin or stdout, its own session (a signal to the receiver's process
group does not reach it), and dies with the receiver (``PR_SET_PDEATHSIG``). Stopping
sends SIGINT, on which pg_receivewal closes its ``.partial`` file properly and exits 0;
SIGTERM would kill it (status 143). After `STOP_GRACE` seconds it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence

import structlog

STOP_GRACE = 30.0
"""How long pg_receivewal gets to exit after SIGINT before it is killed."""

PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)

log = structlog.get_logger("receiver")


async def start(argv: Sequence[str]) -> asyncio.subprocess.Process:
    """Start ``argv`` (exec, no shell) with stderr piped, to die with this process."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_die_with_parent(os.getpid()),
    )


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


async def interrupt(proc: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
    """SIGINT, then up to `STOP_GRACE` seconds for ``waiter`` (``proc.wait()``), then kill."""
    log.info("stopping_pg_receivewal", pid=proc.pid, signal="SIGINT")
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), timeout=STOP_GRACE)
    except TimeoutError:
        log.error("pg_receivewal_kill", pid=proc.pid, after_seconds=STOP_GRACE)
        proc.kill()


async def read_stderr(
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
