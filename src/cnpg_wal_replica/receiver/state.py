"""What the receiver is doing right now, and the pure rules that turn it into health.

The supervisor and its status poller write one `ReceiverState`; `/healthz`, `/readyz` and
the metrics read it. Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVENESS_MAX_AGE = 30.0
"""The supervisor loop must have ticked this recently for ``/healthz``."""

STATUS_MAX_AGE = 10.0
"""A server status older than this is unknown."""

STALL_SECONDS = 30.0
"""Behind the primary and no flush progress for this long: not ready."""


@dataclass
class ReceiverState:
    """Mutable state, owned by the supervisor task (single event loop, no locks)."""

    started_at: float
    heartbeat_at: float
    child_running: bool = False
    blocked_reason: str | None = None
    storage_error: str | None = None
    slot_in_use: str | None = None
    system_identifier_mismatch: bool = False
    status_at: float | None = None
    connected: bool = False
    current_lsn: int | None = None
    flushed_lsn: int | None = None
    received_lsn: int | None = None
    flush_advanced_at: float | None = None
    timeline: int | None = None
    restarts: int = 0

    def record_flush(self, flushed: int | None, now: float) -> None:
        """Remember a flushed LSN and when it last moved."""
        if flushed is not None and (self.flushed_lsn is None or flushed > self.flushed_lsn):
            self.flush_advanced_at = now
        if flushed is not None:
            self.flushed_lsn = flushed

    @property
    def lag_bytes(self) -> int | None:
        """How far the flushed position is behind the primary's current LSN."""
        if self.current_lsn is None or self.flushed_lsn is None:
            return None
        return max(0, self.current_lsn - self.flushed_lsn)


def liveness(state: ReceiverState, now: float) -> tuple[bool, str]:
    """Alive when the supervisor loop ticked recently."""
    age = now - state.heartbeat_at
    if age > LIVENESS_MAX_AGE:
        return False, f"supervisor loop stuck for {age:.0f} s"
    return True, "ok"


def readiness(state: ReceiverState, now: float) -> tuple[bool, str]:
    """Ready when streaming right now: connected, and WAL received recently or nothing to get."""
    if state.blocked_reason:
        return False, state.blocked_reason
    if state.storage_error:
        return False, state.storage_error
    if state.slot_in_use:
        return False, state.slot_in_use
    if not state.child_running:
        return False, "pg_receivewal is not running"
    if state.status_at is None or now - state.status_at > STATUS_MAX_AGE:
        return False, "primary status unknown (status query failing)"
    if not state.connected:
        return False, "not connected: the replication slot has no active walsender"
    lag = state.lag_bytes
    if lag is None:
        return False, "flushed position unknown"
    if lag == 0:
        return True, "streaming, caught up"
    since = now - (state.flush_advanced_at or state.started_at)
    if since > STALL_SECONDS:
        return False, f"stalled: {lag} bytes behind, no WAL flushed for {since:.0f} s"
    return True, f"streaming, {lag} bytes behind"


def storage_problem(error: OSError) -> str:
    """The readiness reason for a local file-system error, naming the path."""
    where = f"{error.filename}: " if error.filename else ""
    return (
        f"cannot use the WAL directory: {where}{error.strerror or error}; nothing is received "
        "while the replication slot keeps WAL on the primary"
    )
