"""The receiver's state file inside the WAL directory: identity of the archive and its gaps.

Shared contract between the receiver (writes it) and `verify` (reads it). The file is
JSON, written atomically (temporary file, fsync, rename), and small.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from cnpg_wal_replica.errors import ArchiveError

STATE_FILE = ".wal-replica-state.json"
"""Name of the state file in the WAL directory. A contract: never rename."""

WRITE_PROBE_FILE = ".wal-replica-write-probe"
"""A file the receiver creates and removes every few seconds to prove it can write; not WAL."""

DIVERGED_DIR = "diverged"
"""Sub-directory where segments past a timeline fork are set aside (never deleted)."""

STATE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Gap:
    """WAL the archive will never have: ``[start_lsn, end_lsn)`` on ``timeline``."""

    start_lsn: int
    end_lsn: int
    timeline: int
    reason: str
    recorded_at: str


@dataclass(frozen=True)
class ArchiveState:
    """What the receiver knows about the archive in its directory."""

    system_identifier: str | None = None
    timeline: int | None = None
    segment_size: int | None = None
    gaps: tuple[Gap, ...] = field(default_factory=tuple)

    def with_gap(self, gap: Gap) -> ArchiveState:
        """A copy with one more recorded gap."""
        return replace(self, gaps=(*self.gaps, gap))


class StateFileError(ArchiveError):
    """The state file exists but cannot be read as an ArchiveState."""


def load_state(directory: Path) -> ArchiveState:
    """Read the state file; an empty state when there is none yet."""
    path = directory / STATE_FILE
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ArchiveState()
    try:
        data = json.loads(raw)
        gaps = tuple(Gap(**g) for g in data.get("gaps", []))
        return ArchiveState(
            system_identifier=data.get("system_identifier"),
            timeline=data.get("timeline"),
            segment_size=data.get("segment_size"),
            gaps=gaps,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise StateFileError(f"{path} is not a valid state file: {exc}") from exc


def save_state(directory: Path, state: ArchiveState) -> None:
    """Write the state file atomically."""
    data = {"version": STATE_FORMAT_VERSION, **asdict(state)}
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, directory / STATE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make the entries created, renamed or removed in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
