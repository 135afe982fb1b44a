"""When the supervisor tries again, and how often a repeating failure is logged.

A server that is down or starting is retried every `FIRST_RETRY` seconds for
`UNAVAILABLE_FAST_ATTEMPTS` attempts (so streaming is back right after a restart), then
with a delay doubling up to `UNAVAILABLE_MAX_RETRY`; other failures back off the same way
up to `MAX_RETRY`; a foreign directory is retried every `FOREIGN_RETRY` seconds. A run of
pg_receivewal of at least `HEALTHY_RUN` seconds resets the backoff.

A repeated failure is logged when it starts or changes, then every `REPEAT_LOG_INTERVAL`
seconds (with the number of attempts), and its end once more: not at every attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

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

_UNAVAILABLE_MARKS = (
    "Connection refused",
    "starting up",
    "shutting down",
    "No such file",
    "not yet accepting",
    "in recovery mode",
    "Connection reset",
)


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
