"""Timeline history files: what ``0000000N.history`` says, which timeline holds an LSN, and
the line of timelines a restore to the newest one reads."""

from __future__ import annotations

import itertools
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


@dataclass(frozen=True)
class Ancestry:
    """The timelines a restore to ``target`` reads, oldest first, each from the segment where
    it begins: the segment where a switch happens is read from the new timeline."""

    begins: tuple[tuple[int, int], ...]
    """``(timeline, first segment number)`` from the oldest ancestor to the target."""

    @property
    def timelines(self) -> set[int]:
        """Every timeline of the line, the target included."""
        return {timeline for timeline, _ in self.begins}

    @property
    def switch_segments(self) -> set[tuple[int, int]]:
        """``(parent, segno)`` of each segment where a switch happens, as the parent's file
        (superseded by the child timeline's file of the same segment)."""
        return {(parent, begin) for (parent, _), (_, begin) in itertools.pairwise(self.begins)}

    def timeline_for(self, segno: int) -> int:
        """The timeline whose file of segment ``segno`` a restore reads."""
        return next(timeline for timeline, begin in reversed(self.begins) if begin <= segno)


def ancestry(history: tuple[TimelineSwitch, ...], target: int, segment_size: int) -> Ancestry:
    """The line to ``target`` that its history file ``history`` describes."""
    if not history:
        return Ancestry(((target, 0),))
    begins = [(history[0].parent, 0)]
    for switch, child in zip(history, [*(s.parent for s in history[1:]), target], strict=True):
        begins.append((child, switch.switch_lsn // segment_size))
    return Ancestry(tuple(begins))


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
