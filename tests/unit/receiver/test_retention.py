"""plan_retention: exactly what the policy says, never what the receiver needs."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cnpg_wal_replica.archive.listing import (
    ArchiveListing,
    HistoryFile,
    SegmentFile,
    list_archive,
)
from cnpg_wal_replica.archive.names import SegmentName, history_name
from cnpg_wal_replica.receiver.retention import (
    RetentionPlan,
    apply_plan,
    deletable_segments,
    floor_bytes,
    plan_retention,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
DIR = Path("/wal")
ROOMY = {"free_bytes": 50 * GIB, "total_bytes": 100 * GIB}


def segment(
    tli: int, segno: int, *, mtime: float = 0.0, size: int = MIB, partial: bool = False
) -> SegmentFile:
    name = SegmentName(tli, segno).name(MIB) + (".partial" if partial else "")
    return SegmentFile(DIR / name, SegmentName(tli, segno), None, partial, size, mtime)


def make_listing(
    segments: list[SegmentFile],
    partials: list[SegmentFile] | None = None,
    histories: list[int] | None = None,
) -> ArchiveListing:
    return ArchiveListing(
        directory=DIR,
        segment_size=MIB,
        segments=tuple(sorted(segments, key=lambda s: (s.segment.segno, s.segment.timeline))),
        partials=tuple(partials or ()),
        histories=tuple(HistoryFile(DIR / history_name(t), t, 100, 0.0) for t in histories or ()),
        unknown=(),
    )


def names(plan: RetentionPlan) -> list[str]:
    return [p.name for p in plan.delete]


def test_nothing_configured_and_plenty_of_space_deletes_nothing() -> None:
    listing = make_listing([segment(1, n) for n in range(1, 20)])
    plan = plan_retention(listing, now=1e9, max_age_seconds=None, max_size_bytes=None, **ROOMY)
    assert plan.delete == ()
    assert plan.reason == "nothing to delete"
    assert not plan.emergency


def test_max_age_deletes_the_older_segments_only() -> None:
    listing = make_listing(
        [segment(1, n, mtime=n * 100.0) for n in range(10)],
        partials=[segment(1, 10, mtime=1000.0, partial=True)],
    )
    plan = plan_retention(listing, now=1000.0, max_age_seconds=550, max_size_bytes=None, **ROOMY)
    # cutoff 450: segments written at 0, 100, 200, 300, 400
    assert names(plan) == [SegmentName(1, n).name(MIB) for n in range(5)]
    assert plan.freed_bytes == 5 * MIB
    assert "5 older than 550s" in plan.reason
    assert not plan.emergency


def test_max_age_stops_at_the_first_younger_segment_so_no_hole_is_made() -> None:
    mtimes = [0.0, 0.0, 900.0, 0.0, 0.0]  # segment 2 was touched later
    listing = make_listing([segment(1, n, mtime=m) for n, m in enumerate(mtimes)])
    plan = plan_retention(listing, now=1000.0, max_age_seconds=500, max_size_bytes=None, **ROOMY)
    assert names(plan) == [SegmentName(1, 0).name(MIB), SegmentName(1, 1).name(MIB)]


def test_max_size_counts_segments_partial_and_history() -> None:
    listing = make_listing(
        [segment(1, n) for n in range(10)],
        partials=[segment(1, 10, partial=True)],
        histories=[2],
    )
    plan = plan_retention(listing, now=0.0, max_age_seconds=None, max_size_bytes=5 * MIB, **ROOMY)
    # 11 MiB + 100 bytes: 7 segments must go to get under 5 MiB (4 MiB + 100 left)
    assert names(plan) == [SegmentName(1, n).name(MIB) for n in range(7)]
    assert "7 over the size limit" in plan.reason


def test_newest_complete_segment_partial_and_history_are_never_deleted() -> None:
    newest = segment(2, 9)
    listing = make_listing(
        [segment(1, n) for n in range(5)] + [segment(2, n) for n in range(5, 9)] + [newest],
        partials=[segment(2, 10, partial=True), segment(1, 5, partial=True)],
        histories=[2],
    )
    plan = plan_retention(listing, now=1e9, max_age_seconds=1, max_size_bytes=1, **ROOMY)
    assert len(plan.delete) == 9
    assert newest.path not in plan.delete
    assert all(not p.name.endswith((".partial", ".history")) for p in plan.delete)


def test_low_disk_trims_beyond_policy_down_to_the_floor_and_says_so() -> None:
    listing = make_listing([segment(1, n, mtime=1000.0) for n in range(20)])
    total = 100 * MIB  # floor: max(5 MiB, 4 segments) = 5 MiB
    plan = plan_retention(
        listing,
        now=1000.0,
        max_age_seconds=3600,
        max_size_bytes=None,
        free_bytes=2 * MIB,
        total_bytes=total,
    )
    assert plan.floor_bytes == floor_bytes(total, MIB) == 5 * MIB
    assert names(plan) == [SegmentName(1, n).name(MIB) for n in range(3)]
    assert plan.emergency
    assert plan.floor_reached
    assert "beyond the retention policy" in plan.reason


def test_floor_is_four_segments_on_small_volumes() -> None:
    assert floor_bytes(10 * MIB, MIB) == 4 * MIB
    assert floor_bytes(1000 * GIB, 16 * MIB) == 50 * GIB


def test_policy_deletions_count_towards_the_floor() -> None:
    listing = make_listing([segment(1, n, mtime=float(n)) for n in range(20)])
    plan = plan_retention(
        listing,
        now=100.0,
        max_age_seconds=90,  # cutoff 10: segments 0..9
        max_size_bytes=None,
        free_bytes=0,
        total_bytes=100 * MIB,
    )
    assert len(plan.delete) == 10
    assert not plan.emergency


def test_floor_not_reachable_deletes_all_it_may_and_is_an_emergency() -> None:
    listing = make_listing(
        [segment(1, n) for n in range(3)], partials=[segment(1, 3, partial=True)]
    )
    plan = plan_retention(
        listing, now=0.0, max_age_seconds=None, max_size_bytes=None, free_bytes=0, total_bytes=GIB
    )
    assert names(plan) == [SegmentName(1, n).name(MIB) for n in range(2)]
    assert plan.emergency
    assert not plan.floor_reached
    assert "floor not reachable" in plan.reason


def test_apply_plan_deletes_files_and_tolerates_missing_ones(tmp_path: Path) -> None:
    for n in range(4):
        (tmp_path / SegmentName(1, n).name(MIB)).write_bytes(b"w" * 1000)
    (tmp_path / "000000010000000000000004.partial").write_bytes(b"p" * 10)
    listing = list_archive(tmp_path, MIB)
    plan = plan_retention(listing, now=0.0, max_age_seconds=None, max_size_bytes=2500, **ROOMY)
    assert names(plan) == [SegmentName(1, 0).name(MIB), SegmentName(1, 1).name(MIB)]
    (tmp_path / SegmentName(1, 0).name(MIB)).unlink()  # someone was faster
    assert apply_plan(plan) == 1000
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [
        "000000010000000000000002",
        "000000010000000000000003",
        "000000010000000000000004.partial",
    ]
    assert apply_plan(plan) == 0


@st.composite
def archives(draw: st.DrawFn) -> ArchiveListing:
    count = draw(st.integers(min_value=0, max_value=30))
    switch = draw(st.integers(min_value=0, max_value=count))
    first = draw(st.integers(min_value=0, max_value=100))
    mtimes = sorted(draw(st.lists(st.floats(0, 1e6), min_size=count, max_size=count)))
    sizes = draw(st.lists(st.integers(1, MIB), min_size=count, max_size=count))
    segments = [
        segment(1 if i < switch else 2, first + i, mtime=mtimes[i], size=sizes[i])
        for i in range(count)
    ]
    partials = [
        segment(2, first + count + i, mtime=1e6, size=MIB, partial=True)
        for i in range(draw(st.integers(0, 2)))
    ]
    return make_listing(segments, partials, [2] if switch < count else [])


@settings(max_examples=300, deadline=None)
@given(
    listing=archives(),
    now=st.floats(0, 2e6),
    max_age=st.none() | st.integers(1, 2_000_000),
    max_size=st.none() | st.integers(1, 40 * MIB),
    free=st.integers(0, 50 * MIB),
    total=st.integers(0, 1000 * MIB),
)
def test_properties(
    listing: ArchiveListing,
    now: float,
    max_age: int | None,
    max_size: int | None,
    free: int,
    total: int,
) -> None:
    plan = plan_retention(
        listing,
        now=now,
        max_age_seconds=max_age,
        max_size_bytes=max_size,
        free_bytes=free,
        total_bytes=total,
    )
    candidates = deletable_segments(listing)
    by_path = {s.path: s for s in listing.segments}
    k = len(plan.delete)
    # only complete segments, never the newest, and always the oldest ones (a prefix)
    assert plan.delete == tuple(s.path for s in candidates[:k])
    newest = listing.newest_segment
    assert newest is None or newest.path not in plan.delete
    kept = {p.path for p in listing.partials} | {h.path for h in listing.histories}
    assert kept.isdisjoint(plan.delete)
    assert plan.freed_bytes == sum(by_path[p].size for p in plan.delete)

    floor = floor_bytes(total, MIB)

    def violated(deleted: int) -> bool:
        freed = sum(s.size for s in candidates[:deleted])
        remaining = candidates[deleted:]
        too_old = max_age is not None and bool(remaining) and remaining[0].mtime < now - max_age
        too_big = max_size is not None and listing.wal_bytes - freed > max_size
        too_full = free + freed < floor
        return too_old or too_big or too_full

    if k < len(candidates):  # stopped early: every limit holds
        assert not violated(k)
    if k > 0:  # and nothing was deleted that no limit asked for
        assert violated(k - 1)
    if not plan.emergency:
        assert free + plan.freed_bytes >= floor
