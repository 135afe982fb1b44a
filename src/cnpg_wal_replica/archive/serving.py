"""Which archive file answers a restore request, and its bytes as PostgreSQL must get them.

PostgreSQL asks ``restore_command`` for a plain name (``%f``): a segment or a history file.
The archive may hold that segment plain, compressed (``.gz``, ``.lz4``) or still being
written (``….partial``). What is served:

- a complete segment, decompressed; it must come out exactly one segment long;
- else, if the segment is the **newest** partial (highest timeline, then segment number),
  its written part, decompressed as far as it goes and padded with zeros to the segment
  size: PostgreSQL refuses a segment of any other size, and replay stops at the last valid
  record (a standby asks again later and gets more). Older partials are the ends of old
  timelines, which PostgreSQL's own archiving keeps out of recovery under ``.partial``;
  they are not served;
- a ``0000000N.history`` file as it is.

Names are checked against the segment and history patterns before any path is built.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cnpg_wal_replica.archive.compression import DECODE_ERRORS, SUFFIXES, decoder
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile, list_archive
from cnpg_wal_replica.archive.names import (
    PARTIAL_SUFFIX,
    SegmentName,
    classify_segment_name,
    parse_history_name,
    parse_segment_name,
)
from cnpg_wal_replica.errors import ArchiveError

CHUNK_SIZE = 1 << 20
"""Bytes read (and, for compressed files, decompressed) per step; one stream message."""


class Kind(Enum):
    """What a served file is."""

    SEGMENT = "segment"
    PARTIAL = "partial"
    HISTORY = "history"


@dataclass(frozen=True)
class Served:
    """The archive file that answers a request, and how many bytes the reader gets."""

    kind: Kind
    path: Path
    compression: str | None
    size: int

    @property
    def source(self) -> str:
        """The archive file's own name, suffixes included."""
        return self.path.name


class ArchiveReadError(ArchiveError):
    """A file the archive holds cannot be served as PostgreSQL needs it (corrupt, short)."""


def is_request_name(name: str, segment_size: int) -> bool:
    """Whether *name* is something PostgreSQL asks a restore for: a segment or history name."""
    return (
        parse_segment_name(name, segment_size) is not None or parse_history_name(name) is not None
    )


def find(directory: Path, name: str, segment_size: int) -> Served | None:
    """The file that answers *name*, or None when the archive has none.

    *name* must pass `is_request_name`; anything else raises ``ValueError``.
    """
    if parse_history_name(name) is not None:
        size = _file_size(directory / name)
        return None if size is None else Served(Kind.HISTORY, directory / name, None, size)
    segment = parse_segment_name(name, segment_size)
    if segment is None:
        raise ValueError(f"{name!r} is neither a WAL segment name nor a history file name")
    for method, suffix in SUFFIXES.items():
        path = directory / (name + suffix)
        if _file_size(path) is not None:
            return Served(Kind.SEGMENT, path, None if method == "none" else method, segment_size)
    newest = newest_partial(directory, segment_size)
    if newest is not None and newest.segment == segment:
        return Served(Kind.PARTIAL, newest.path, newest.compression, segment_size)
    return None


def newest_partial(directory: Path, segment_size: int) -> SegmentFile | None:
    """The ``.partial`` of the highest (timeline, segment); only partials are stat'ed."""
    best: tuple[tuple[int, int], SegmentName, str | None, os.DirEntry[str]] | None = None
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.name.endswith(PARTIAL_SUFFIX):
                continue
            parsed = classify_segment_name(entry.name, segment_size)
            if parsed is None:
                continue
            segment, compression, _ = parsed
            key = (segment.timeline, segment.segno)
            if best is None or key > best[0]:
                best = (key, segment, compression, entry)
    if best is None:
        return None
    _, segment, compression, entry = best
    try:
        info = entry.stat(follow_symlinks=False)
    except FileNotFoundError:  # completed (renamed) since the scan
        return None
    return SegmentFile(
        directory / entry.name, segment, compression, True, info.st_size, info.st_mtime
    )


def _newest(partials: tuple[SegmentFile, ...]) -> SegmentFile | None:
    return max(partials, key=lambda f: (f.segment.timeline, f.segment.segno), default=None)


def newest_timeline(listing: ArchiveListing) -> int:
    """The highest timeline the archive holds a history file or segment of; 0 when empty."""
    timelines = [h.timeline for h in listing.histories]
    timelines += [f.segment.timeline for f in (*listing.segments, *listing.partials)]
    return max(timelines, default=0)


def describe(directory: Path, segment_size: int) -> tuple[str, str, int]:
    """``(newest complete segment, newest partial, newest timeline)``; names are plain."""
    listing = list_archive(directory, segment_size)
    newest = listing.newest_segment
    partial = _newest(listing.partials)
    return (
        newest.segment.name(segment_size) if newest else "",
        partial.segment.name(segment_size) if partial else "",
        newest_timeline(listing),
    )


def read_chunks(served: Served, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The bytes a reader gets for *served*, in chunks of at most *chunk_size*.

    A complete segment that does not decompress to exactly its size raises
    `ArchiveReadError` (possibly after some chunks: the reader must discard what it got);
    a partial one is cut or padded to the segment size.
    """
    decode = decoder(served.compression)
    sent = 0
    with open(served.path, "rb") as handle:
        while sent < served.size:
            raw = handle.read(chunk_size)
            if not raw:
                break
            try:
                data = decode.decompress(raw) if decode is not None else raw
            except DECODE_ERRORS as exc:
                if served.kind is Kind.PARTIAL:
                    break  # the tail being written: serve what decoded
                raise ArchiveReadError(f"{served.source}: cannot decompress: {exc}") from None
            if len(data) > served.size - sent:
                if served.kind is not Kind.PARTIAL:
                    raise ArchiveReadError(
                        f"{served.source}: holds more than the {served.size} bytes of a segment"
                    )
                data = data[: served.size - sent]
            for start in range(0, len(data), chunk_size):
                piece = data[start : start + chunk_size]
                sent += len(piece)
                yield piece
    if served.kind is Kind.PARTIAL:
        while sent < served.size:
            piece = bytes(min(chunk_size, served.size - sent))
            sent += len(piece)
            yield piece
    elif sent != served.size:
        raise ArchiveReadError(
            f"{served.source}: holds {sent} bytes of WAL, a segment has {served.size}"
        )


def _file_size(path: Path) -> int | None:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info.st_size if path.is_file() else None
