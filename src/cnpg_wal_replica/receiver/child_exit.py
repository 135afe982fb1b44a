"""What pg_receivewal's last lines say about why it exited.

Pure: the supervisor passes the tail of the child's stderr and gets back whether the
next round must resume past lost WAL or repair a fork, which walsender holds the slot,
and the line worth reporting (with the key under which repeats are counted).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

LOST_WAL_MARK = "has already been removed"
FORK_MARK = "is not in this server's history"
_SLOT_ACTIVE_RE = re.compile(r"replication slot \"[^\"]*\" is active for PID ([0-9]+)")
_NOISE_SUFFIX = "error: disconnected"
"""The line pg_receivewal prints after every failure: it never says why."""


@dataclass(frozen=True)
class ChildExit:
    """One exit of pg_receivewal, read from its last lines."""

    lost_wal: bool
    """The server had already removed WAL the slot needed: resume past it."""
    forked: bool
    """The slot's position is not in the server's history (a fork): repair it."""
    walsender_pid: int | None
    """The PID of the walsender that holds the slot, when the slot was busy."""
    last_error: str | None
    """The line that says most about the exit, if any."""

    @property
    def event(self) -> str:
        """The log event for this exit."""
        return "pg_receivewal_exited" if self.walsender_pid is None else "slot_active_elsewhere"

    @property
    def repeat_key(self) -> str:
        """Equal for exits that repeat the same failure (a new walsender PID is no change)."""
        return f"{self.event}: {_SLOT_ACTIVE_RE.sub('PID', self.last_error or '')}"

    def slot_in_use(self, slot: str) -> str | None:
        """What readiness says while another connection holds ``slot``, else ``None``."""
        if self.walsender_pid is None:
            return None
        return (
            f"replication slot {slot} is in use by another connection "
            f"(walsender PID {self.walsender_pid} on the primary): an old receiver or "
            "pg_receivewal still streams from it; this receiver retries until it is free"
        )


def read_exit(lines: Sequence[str]) -> ChildExit:
    """Read the tail of pg_receivewal's stderr (oldest line first)."""
    text = "\n".join(lines)
    holder = next(filter(None, map(_SLOT_ACTIVE_RE.search, lines)), None)
    telling = [line for line in lines if not line.endswith(_NOISE_SUFFIX)]
    last: str | None = holder.string if holder else (telling or list(lines) or [""])[-1] or None
    return ChildExit(
        lost_wal=LOST_WAL_MARK in text,
        forked=FORK_MARK in text,
        walsender_pid=int(holder.group(1)) if holder else None,
        last_error=last,
    )
