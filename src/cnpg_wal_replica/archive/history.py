"""Timeline history files: what ``0000000N.history`` says, and which timeline holds an LSN."""

from __future__ import annotations

from dataclasses import dataclass

from cnpg_wal_replica.archive.listing import ArchiveListing
from cnpg_wal_replica.archive.names import parse_lsn


@dataclass(frozen=True)
class TimelineSwitch:
    """One line of a history file: ``parent`` ended (and its child began) at ``switch_lsn``."""

    parent: int
    switch_lsn: int
    reason: str


def parse_history(text: str) -> tuple[TimelineSwitch, ...]:
    """Parse the contents of a timeline history file.

    Each non-comment line is ``<parent tli> <switch LSN> <reason>``, tab-separated.
    """
    entries: list[TimelineSwitch] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].isdigit():
            raise ValueError(f"history line {lineno} is malformed: {raw!r}")
        entries.append(
            TimelineSwitch(int(parts[0]), parse_lsn(parts[1]), parts[2] if len(parts) > 2 else "")
        )
    return tuple(entries)


def timeline_of_lsn(history: tuple[TimelineSwitch, ...], current: int, lsn: int) -> int:
    """Which timeline of the history that ends in ``current`` contains ``lsn``."""
    for switch in history:
        if lsn < switch.switch_lsn:
            return switch.parent
    return current


def read_histories(
    listing: ArchiveListing,
) -> tuple[dict[int, tuple[TimelineSwitch, ...]], dict[int, str]]:
    """Parsed history files by timeline, and the ones that could not be read (with why)."""
    parsed: dict[int, tuple[TimelineSwitch, ...]] = {}
    errors: dict[int, str] = {}
    for history in listing.histories:
        try:
            parsed[history.timeline] = parse_history(history.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            errors[history.timeline] = str(exc)
    return parsed, errors
