"""The partial segment: the ``.partial`` file pg_receivewal is writing.

pg_receivewal creates it filled with zeros to the segment size (uncompressed; a compressed
one grows as it is written), writes WAL pages into it in order, and renames it without the
suffix once the segment is complete. The newest one holds the latest WAL a restore can
use; `verify` says how far it goes; the receiver repairs one left short by an interrupted
zero fill.
"""

from __future__ import annotations

import os

from cnpg_wal_replica.archive.listing import ArchiveListing


def written_bytes(fd: int, block_size: int) -> int:
    """Where the written part of the plain partial open as ``fd`` ends: the end of the last
    page whose header is not zero (pages are written in order)."""
    pages = os.fstat(fd).st_size // block_size
    low, high = 0, pages  # page `low` is written (page 0 has a header); find the last one
    while high - low > 1:
        middle = (low + high) // 2
        if any(os.pread(fd, 4, middle * block_size)):
            low = middle
        else:
            high = middle
    return (low + 1) * block_size if pages else 0


def pad_short_partials(listing: ArchiveListing) -> list[tuple[str, int]]:
    """Extend uncompressed ``.partial`` files shorter than a segment to the segment size.

    pg_receivewal fills a new ``.partial`` with zeros before writing WAL into it; killed
    while doing so (``kill -9``, OOM, a node crash) it leaves a file of some other size,
    and every later run refuses it ("has N bytes, should be 0 or 16777216") forever. The
    missing tail is what the fill would have written (zeros), so padding loses nothing.
    Returns ``(name, old size)`` for each file padded.
    """
    padded = []
    for file in listing.partials:
        if file.compression is None and 0 < file.size < listing.segment_size:
            with open(file.path, "r+b") as handle:
                handle.truncate(listing.segment_size)
                os.fsync(handle.fileno())
            padded.append((file.name, file.size))
    return padded
