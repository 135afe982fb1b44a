"""What ``verify`` reports: plain frozen values, built by `verify_checks`, printed by `verify`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One reason the archive is not whole; ``files`` names the files concerned."""

    kind: str
    message: str
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimelineSummary:
    """The complete segments of one timeline: ``[start_lsn, end_lsn)``."""

    timeline: int
    start_lsn: int
    end_lsn: int
    segments: int
    partial: str | None


@dataclass(frozen=True)
class RecoverableRange:
    """WAL a restore can replay without a hole, ending on ``timeline``.

    ``end_lsn`` is the end of the newest complete segment. ``partial`` names the partial
    segment after it, if any; ``partial_end_lsn`` is where its written part ends (the end of
    its last written page; ``None`` when that cannot be read, as for lz4).
    """

    timeline: int
    start_lsn: int
    end_lsn: int
    partial_end_lsn: int | None
    partial: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything ``verify`` found; ``whole`` when there is no problem."""

    directory: str
    segment_size: int
    system_identifier: str | None
    counts: Mapping[str, int]
    timelines: tuple[TimelineSummary, ...]
    recoverable: RecoverableRange | None
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]

    @property
    def empty(self) -> bool:
        """True when the directory holds no WAL segment at all, complete or partial."""
        return not self.counts.get("segments", 0) and not self.counts.get("partials", 0)

    @property
    def whole(self) -> bool:
        """True when the archive holds WAL and is complete and consistent."""
        return not self.problems and not self.empty

    @property
    def result(self) -> str:
        """``whole``, ``incomplete`` (problems found) or ``empty`` (no WAL at all)."""
        if self.problems:
            return "incomplete"
        return "empty" if self.empty else "whole"
