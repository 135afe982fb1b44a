"""A frozen snapshot of a WAL directory, classified by file kind; lists, never deletes.

What ``pg_receivewal`` leaves in its directory:

- complete segments: ``000000010000000000000003`` (plain), ``….gz`` or ``….lz4`` (compressed);
- the segment being written: ``….partial``, ``….gz.partial`` or ``….lz4.partial``;
- timeline history files: ``00000002.history``;
- anything else is *unknown* (for example ``00000002.history.tmp`` while it is being written).

The receiver's state file (`state.STATE_FILE`) and the `state.DIVERGED_DIR` sub-directory
are not part of the archive and are left out. Retention and ``verify`` both read this listing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cnpg_wal_replica.archive.names import SegmentName, classify_segment_name, parse_history_name
from cnpg_wal_replica.archive.state import DIVERGED_DIR, STATE_FILE, WRITE_PROBE_FILE


@dataclass(frozen=True)
class SegmentFile:
    """A WAL segment file, complete or partial, plain or compressed."""

    path: Path
    segment: SegmentName
    compression: str | None
    partial: bool
    size: int
    mtime: float

    @property
    def name(self) -> str:
        """The file name, suffixes included."""
        return self.path.name


@dataclass(frozen=True)
class HistoryFile:
    """A timeline history file (``0000000N.history``)."""

    path: Path
    timeline: int
    size: int
    mtime: float


@dataclass(frozen=True)
class OtherFile:
    """Any other entry in the directory (kept, reported, never deleted)."""

    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class ArchiveListing:
    """What a WAL directory held when it was listed.

    ``segments`` and ``partials`` are sorted in WAL order (segment number, timeline, then name);
    ``histories`` by timeline; ``unknown`` by name.
    """

    directory: Path
    segment_size: int
    segments: tuple[SegmentFile, ...]
    partials: tuple[SegmentFile, ...]
    histories: tuple[HistoryFile, ...]
    unknown: tuple[OtherFile, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of every listed file (segments, partials, histories, unknown files)."""
        files: tuple[SegmentFile | HistoryFile | OtherFile, ...] = (
            *self.segments,
            *self.partials,
            *self.histories,
            *self.unknown,
        )
        return sum(f.size for f in files)

    @property
    def wal_bytes(self) -> int:
        """Bytes of the archive proper: segments, partials and history files."""
        files: tuple[SegmentFile | HistoryFile, ...] = (
            *self.segments,
            *self.partials,
            *self.histories,
        )
        return sum(f.size for f in files)

    @property
    def newest_segment(self) -> SegmentFile | None:
        """The last complete segment of the highest timeline, the one the receiver continues."""
        if not self.segments:
            return None
        return max(self.segments, key=lambda s: (s.segment.timeline, s.segment.segno))


def _wal_order(file: SegmentFile) -> tuple[int, int, str]:
    return (file.segment.segno, file.segment.timeline, file.name)


def list_archive(directory: Path, segment_size: int) -> ArchiveListing:
    """List ``directory`` once; files that vanish while listing are skipped."""
    segments: list[SegmentFile] = []
    partials: list[SegmentFile] = []
    histories: list[HistoryFile] = []
    unknown: list[OtherFile] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name in (STATE_FILE, WRITE_PROBE_FILE):
                continue
            try:
                if entry.name == DIVERGED_DIR and entry.is_dir(follow_symlinks=False):
                    continue
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            path = directory / entry.name
            parsed = classify_segment_name(entry.name, segment_size) if entry.is_file() else None
            timeline = parse_history_name(entry.name) if entry.is_file() else None
            if parsed is not None:
                segment, compression, partial = parsed
                seg = SegmentFile(path, segment, compression, partial, info.st_size, info.st_mtime)
                (partials if partial else segments).append(seg)
            elif timeline is not None:
                histories.append(HistoryFile(path, timeline, info.st_size, info.st_mtime))
            else:
                unknown.append(OtherFile(path, info.st_size, info.st_mtime))
    return ArchiveListing(
        directory=directory,
        segment_size=segment_size,
        segments=tuple(sorted(segments, key=_wal_order)),
        partials=tuple(sorted(partials, key=_wal_order)),
        histories=tuple(sorted(histories, key=lambda h: h.timeline)),
        unknown=tuple(sorted(unknown, key=lambda o: o.path.name)),
    )
