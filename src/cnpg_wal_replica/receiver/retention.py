"""Which WAL files to delete: a pure plan from a listing, plus the one function that deletes.

Policy (see ``docs/retention.md``):

1. Only complete segments are ever deleted, oldest first in WAL order (segment number, then
   timeline), and only as a prefix: the archive is trimmed from its old end, never punched
   with holes. The newest complete segment of the highest timeline, every ``.partial`` file,
   every ``.history`` file and every unknown file are kept.
2. ``max_age_seconds``: delete the oldest segments while their mtime is older than
   ``now - max_age_seconds``; stop at the first younger one.
3. ``max_size_bytes``: then delete the oldest segments while the archive
   (segments, partials and history files) is larger than the limit.
4. Disk-safety floor, always on: after 2 and 3, if the volume's free space would still be
   below ``floor = max(5 % of the volume, 4 segments)``, keep deleting the oldest segments
   until it is not (or only the kept files are left) and mark the plan ``emergency``.
   A full volume stops ``pg_receivewal``; the replication slot then pins WAL on the primary
   until the *primary's* disk fills. Losing old archive beats taking the database down, and
   the emergency flag makes the supervisor say so loudly (log and metric).
5. A ``.partial`` whose segment also exists complete, on the same timeline and in another
   format, is redundant and deleted: after a ``compression`` change pg_receivewal streams the
   segment it was writing again, from its start, into a file of the new format, and the old
   partial stays behind. (pg_receivewal never leaves a same-format pair; verify reports one.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile

FLOOR_FRACTION = 0.05
"""Share of the volume the floor keeps free."""

FLOOR_SEGMENTS = 4
"""Segments' worth of space the floor keeps free, when more than the fraction."""


@dataclass(frozen=True)
class RetentionPlan:
    """Files to delete and why. ``emergency``: the retention policy alone left the volume
    under the free-space floor, so the plan trims beyond it (or cannot reach the floor)."""

    delete: tuple[Path, ...]
    reason: str
    emergency: bool
    freed_bytes: int = 0
    floor_bytes: int = 0
    floor_reached: bool = True
    """False when deleting every segment retention may delete still leaves the volume under
    the floor: retention cannot free the space, something else fills the volume."""


def floor_bytes(total_bytes: int, segment_size: int) -> int:
    """Free space the receiver keeps on its volume: max(5 % of it, 4 segments)."""
    return max(int(total_bytes * FLOOR_FRACTION), FLOOR_SEGMENTS * segment_size)


def deletable_segments(listing: ArchiveListing) -> tuple[SegmentFile, ...]:
    """Complete segments retention may delete, oldest first: all but the newest one."""
    newest = listing.newest_segment
    return tuple(s for s in listing.segments if s is not newest)


def superseded_partials(listing: ArchiveListing) -> tuple[SegmentFile, ...]:
    """Partials of a segment that is also complete on the same timeline in another format."""
    complete = {(s.segment.timeline, s.segment.segno): s.compression for s in listing.segments}
    return tuple(
        p
        for p in listing.partials
        if complete.get((p.segment.timeline, p.segment.segno), p.compression) != p.compression
    )


def plan_retention(
    listing: ArchiveListing,
    *,
    now: float,
    max_age_seconds: int | None,
    max_size_bytes: int | None,
    free_bytes: int,
    total_bytes: int,
) -> RetentionPlan:
    """Decide what to delete (see the module docstring for the policy). No I/O."""
    candidates = deletable_segments(listing)
    count = 0
    freed = 0
    reasons: list[str] = []

    if max_age_seconds is not None:
        cutoff = now - max_age_seconds
        start = count
        while count < len(candidates) and candidates[count].mtime < cutoff:
            freed += candidates[count].size
            count += 1
        if count > start:
            reasons.append(f"{count - start} older than {max_age_seconds}s")

    if max_size_bytes is not None:
        size = listing.wal_bytes - freed
        start = count
        while count < len(candidates) and size > max_size_bytes:
            size -= candidates[count].size
            freed += candidates[count].size
            count += 1
        if count > start:
            reasons.append(f"{count - start} over the size limit of {max_size_bytes} bytes")

    floor = floor_bytes(total_bytes, listing.segment_size)
    emergency = free_bytes + freed < floor
    reached = True
    if emergency:
        start = count
        while count < len(candidates) and free_bytes + freed < floor:
            freed += candidates[count].size
            count += 1
        reached = free_bytes + freed >= floor
        reasons.append(
            f"{count - start} beyond the retention policy to keep {floor} bytes free "
            f"(free {free_bytes} bytes{'' if reached else '; floor not reachable'})"
        )

    reason = "; ".join(reasons) if reasons else "nothing to delete"
    return RetentionPlan(
        delete=tuple(s.path for s in candidates[:count]),
        reason=reason,
        emergency=emergency,
        freed_bytes=freed,
        floor_bytes=floor,
        floor_reached=reached,
    )


def apply_plan(plan: RetentionPlan) -> int:
    """Delete the plan's files, oldest first; files already gone are skipped. Bytes freed."""
    freed = 0
    for path in plan.delete:
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            path.unlink()
            freed += size
    return freed
