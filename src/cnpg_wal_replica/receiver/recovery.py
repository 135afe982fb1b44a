"""Pure plans for the two ways a WAL directory and its server can disagree.

*Where pg_receivewal starts* decides everything: it continues from the newest file in its
directory (highest segment number, then timeline; a complete segment beats a partial one
of the same name): after a complete segment, at the next one; in a ``.partial``, at its
start; on that file's timeline.

- **Fork** (`plan_fork`): the server's timeline history says our start point is not in its
  history (we hold WAL of a timeline past the point where the server's timeline forked from
  it, or of a timeline it never had). The diverged files are moved aside; when the new start
  point then falls exactly on the switch point of its timeline, the child timeline's segment
  is created as an empty ``.partial`` (measured: starting at a switch point on the old
  timeline fails with an empty error; on the new timeline it streams).
- **Lost WAL** (`plan_lost_wal`): the server no longer has the segment we need. Streaming
  restarts at the slot's restart LSN; the gap in between is recorded.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cnpg_wal_replica.archive.history import TimelineSwitch
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile
from cnpg_wal_replica.archive.names import segment_for_lsn
from cnpg_wal_replica.archive.state import Gap


@dataclass(frozen=True)
class StreamStart:
    """Where pg_receivewal will start streaming: a timeline and an LSN."""

    timeline: int
    lsn: int


def streaming_start(listing: ArchiveListing) -> StreamStart | None:
    """pg_receivewal's own choice of start point for this directory; ``None`` if empty."""
    files = (*listing.segments, *listing.partials)
    if not files:
        return None
    newest = max(files, key=lambda f: (f.segment.segno, f.segment.timeline, not f.partial))
    size = listing.segment_size
    if newest.partial:
        return StreamStart(newest.segment.timeline, newest.segment.start_lsn(size))
    return StreamStart(newest.segment.timeline, newest.segment.end_lsn(size))


@dataclass(frozen=True)
class ForkPlan:
    """Files to move aside and the empty partial to create (a file name), if any."""

    move_aside: tuple[Path, ...]
    create_partial: str | None
    fork_timeline: int
    fork_lsn: int


def timeline_ends(
    server_timeline: int, history: tuple[TimelineSwitch, ...]
) -> dict[int, int | None]:
    """Each timeline in the server's history to the LSN where it ended (``None``: current)."""
    ends: dict[int, int | None] = {switch.parent: switch.switch_lsn for switch in history}
    ends[server_timeline] = None
    return ends


def _child(timeline: int, server_timeline: int, history: tuple[TimelineSwitch, ...]) -> int:
    parents = [switch.parent for switch in history]
    index = parents.index(timeline)
    return parents[index + 1] if index + 1 < len(parents) else server_timeline


def _diverged(file: SegmentFile, ends: dict[int, int | None], size: int) -> bool:
    tli = file.segment.timeline
    if tli not in ends:
        return True
    end = ends[tli]
    if end is None:
        return False
    if file.partial:
        return file.segment.start_lsn(size) >= end
    return file.segment.end_lsn(size) > end


def plan_fork(
    listing: ArchiveListing, server_timeline: int, history: tuple[TimelineSwitch, ...]
) -> ForkPlan | None:
    """What to do so pg_receivewal can stream ``server_timeline``; ``None``: nothing."""
    size = listing.segment_size
    ends = timeline_ends(server_timeline, history)
    moved = [f for f in (*listing.segments, *listing.partials) if _diverged(f, ends, size)]
    moved_histories = [h.path for h in listing.histories if h.timeline not in ends]
    kept_segments = tuple(f for f in listing.segments if f not in moved)
    kept_partials = tuple(f for f in listing.partials if f not in moved)
    remaining = ArchiveListing(
        listing.directory, size, kept_segments, kept_partials, listing.histories, listing.unknown
    )
    start = streaming_start(remaining)
    create: str | None = None
    fork_tli, fork_lsn = server_timeline, 0
    if start is not None and ends.get(start.timeline) is not None:
        end = ends[start.timeline]
        assert end is not None
        fork_tli, fork_lsn = start.timeline, end
        if start.lsn == end:
            child = _child(start.timeline, server_timeline, history)
            segment = segment_for_lsn(child, end, size)
            create = segment.partial_name(size)
            if any(p.segment == segment for p in kept_partials):
                create = None
    if not moved and not moved_histories and create is None:
        return None
    if moved:
        first = min(moved, key=lambda f: (f.segment.segno, f.segment.timeline))
        fork_tli = first.segment.timeline
        fork_lsn = ends.get(fork_tli) or first.segment.start_lsn(size)
    return ForkPlan(
        tuple(f.path for f in moved) + tuple(moved_histories), create, fork_tli, fork_lsn
    )


@dataclass(frozen=True)
class LostWalPlan:
    """The gap to record and the empty partial to create where streaming resumes.

    A ``.partial`` at the gap's start stays where it is: it holds what was received
    before the gap (``verify`` reports it as received up to a recorded gap).
    """

    gap: Gap
    create_partial: str


def plan_lost_wal(
    listing: ArchiveListing, *, server_timeline: int, resume_lsn: int, now: datetime.datetime
) -> LostWalPlan | None:
    """Resume at the segment of ``resume_lsn`` on ``server_timeline``; the gap before it.

    ``None`` when the directory already continues at or after that segment.
    """
    size = listing.segment_size
    start = streaming_start(listing)
    resume = segment_for_lsn(server_timeline, resume_lsn, size)
    if start is None or start.lsn >= resume.start_lsn(size):
        return None
    gap = Gap(
        start_lsn=start.lsn,
        end_lsn=resume.start_lsn(size),
        timeline=start.timeline,
        reason="WAL removed on the server before the receiver got it "
        "(replication slot invalidated, dropped or too new)",
        recorded_at=now.isoformat(timespec="seconds"),
    )
    return LostWalPlan(gap, resume.partial_name(size))
