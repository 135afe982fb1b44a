"""The pure half of ``verify``: from a listing and what its files said, to a `Report`.

Each file is checked first (`verify_files`). The restore target is the newest timeline in
the directory. Its history file gives the timelines it descends from and where each began
(`history.ancestry`); for every segment number the file that recovery would read is the one
of the newest of those timelines that had begun by then (so the segment where a switch
happens is read from the new timeline). The recoverable range is the run of such files,
without a hole, that ends at the newest one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from cnpg_wal_replica.archive.history import Ancestry, TimelineSwitch, ancestry
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile
from cnpg_wal_replica.archive.names import format_lsn, history_name
from cnpg_wal_replica.archive.state import ArchiveState, Gap
from cnpg_wal_replica.tools.verify_files import FileJudge
from cnpg_wal_replica.tools.verify_inspect import FileFinding
from cnpg_wal_replica.tools.verify_report import RecoverableRange, Report, TimelineSummary


def _runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted integers grouped into inclusive runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


class _Judge(FileJudge):
    """Judges the archive as a whole once its files are checked; `report()` is the only step."""

    def check_histories(self, timelines: set[int]) -> None:
        for timeline, error in sorted(self.history_errors.items()):
            name = history_name(timeline)
            self.problem("unreadable-history", f"{name}: {error}", [name])
        for timeline in sorted(timelines):
            name = history_name(timeline)
            known = timeline in self.histories or timeline in self.history_errors
            if timeline > 1 and not known:
                self.problem(
                    "missing-history",
                    f"timeline {timeline} has segments but no {name}: a restore cannot "
                    "follow the switch to it",
                    [name],
                )

    def gap_for(self, first: int, last: int) -> Gap | None:
        low, high = first * self.size, (last + 1) * self.size
        for gap in self.state.gaps:
            if gap.start_lsn < high and gap.end_lsn > low:
                return gap
        return None

    def report_missing(self, timeline: int, first: int, last: int) -> None:
        names = [self.name(timeline, n) for n in range(first, last + 1)]
        span = names[0] if first == last else f"{names[0]} .. {names[-1]}"
        count = f"{len(names)} segment{'s' if len(names) > 1 else ''}"
        gap = self.gap_for(first, last)
        if gap is not None:
            self.problem(
                "recorded-gap",
                f"recorded gap: WAL lost on the server, {format_lsn(gap.start_lsn)} to "
                f"{format_lsn(gap.end_lsn)} on timeline {gap.timeline} ({gap.reason}, "
                f"recorded {gap.recorded_at}); missing {span} ({count})",
                names,
            )
        else:
            self.problem("missing-segments", f"missing {span} ({count})", names)

    def report(self) -> Report:
        listing = self.listing
        for other in listing.unknown:
            self.notes.append(f"unknown file kept as is: {other.path.name}")
        expected_sysid = self.check_files()
        usable = {
            (f.segment.timeline, f.segment.segno)
            for f in listing.segments
            if f.path not in self.bad
        }
        present = {(f.segment.timeline, f.segment.segno) for f in listing.segments}
        timelines = {f.segment.timeline for f in (*listing.segments, *listing.partials)}
        self.check_histories(timelines)
        recoverable: RecoverableRange | None = None
        chain_missing: set[tuple[int, int]] = set()
        if timelines:
            recoverable = self.check_chain(max(timelines), usable, present, chain_missing)
        for timeline in sorted(timelines):
            numbers = sorted(n for tli, n in present if tli == timeline)
            holes = (
                [
                    n
                    for n in range(numbers[0], numbers[-1] + 1)
                    if (timeline, n) not in present and (timeline, n) not in chain_missing
                ]
                if numbers
                else []
            )
            for first, last in _runs(holes):
                self.report_missing(timeline, first, last)
        self.note_old_gaps(recoverable)
        counts = Counter(
            {
                "segments": len(listing.segments),
                "gzip": sum(1 for f in listing.segments if f.compression == "gzip"),
                "lz4": sum(1 for f in listing.segments if f.compression == "lz4"),
                "partials": len(listing.partials),
                "histories": len(listing.histories),
                "unknown": len(listing.unknown),
                "bytes": listing.total_bytes,
            }
        )
        return Report(
            directory=str(listing.directory),
            segment_size=self.size,
            system_identifier=expected_sysid,
            counts=dict(counts),
            timelines=self.summaries(sorted(timelines)),
            recoverable=recoverable,
            problems=tuple(self.problems),
            notes=tuple(self.notes),
        )

    def check_chain(
        self,
        target: int,
        usable: set[tuple[int, int]],
        present: set[tuple[int, int]],
        missing: set[tuple[int, int]],
    ) -> RecoverableRange | None:
        """Walk the target's history; report holes; check partials; the recoverable range."""
        line = ancestry(self.histories.get(target, ()), target, self.size)
        on_path = line.timelines
        needed = line.timeline_for
        switches = line.switch_segments
        off_path = sorted(
            self.name(tli, n) for tli, n in present if needed(n) != tli and (tli, n) not in switches
        )
        if off_path:
            self.notes.append(
                f"{len(off_path)} segment(s) not on timeline {target}'s history, not used by a "
                f"restore to it: {', '.join(off_path[:3])}{' …' if len(off_path) > 3 else ''}"
            )
        path_numbers = [n for tli, n in usable if tli in on_path]
        head = [n for tli, n in usable if tli in on_path and needed(n) == tli]
        partials = [f for f in self.listing.partials if f.path not in self.bad]
        last_partial = next((f for f in reversed(partials) if f.segment.timeline == target), None)
        if last_partial is not None and head and last_partial.segment.segno <= max(head):
            last_partial = None
        self.check_partials(last_partial, line)
        if not path_numbers and last_partial is None:
            return None
        low = min(path_numbers, default=last_partial.segment.segno if last_partial else 0)
        high = max(head, default=low - 1)
        if last_partial is not None:
            high = max(high, last_partial.segment.segno - 1)
        holes = [n for n in range(low, high + 1) if (needed(n), n) not in usable]
        absent = [n for n in holes if (needed(n), n) not in present]  # others: reported bad
        for first, last in _runs(absent):
            missing.update((needed(n), n) for n in range(first, last + 1))
            self.report_missing(needed(first), first, last)
        start = (holes[-1] + 1) if holes else low
        partial_end: int | None = None
        if last_partial is not None:
            finding = self.findings.get(last_partial.path)
            written = finding.written_bytes if finding else None
            if written is not None:
                partial_end = last_partial.segment.start_lsn(self.size) + written
        end = (high + 1) * self.size
        partial_name = last_partial.name if last_partial else None
        return RecoverableRange(target, start * self.size, end, partial_end, partial_name)

    def check_partials(self, last: SegmentFile | None, line: Ancestry) -> None:
        switch_segments = line.switch_segments
        complete = {(f.segment.timeline, f.segment.segno): f for f in self.listing.segments}
        for file in self.listing.partials:
            key = (file.segment.timeline, file.segment.segno)
            if file is last or file.path in self.bad:
                continue
            if key in complete and complete[key].compression != file.compression:
                # left by a compression change; the receiver deletes it
                self.notes.append(f"{file.name}: superseded by the complete {complete[key].name}")
            elif key in switch_segments:
                self.notes.append(f"{file.name}: superseded by the next timeline (kept)")
            elif self.gap_for(file.segment.segno, file.segment.segno) is not None:
                self.notes.append(f"{file.name}: received up to a recorded gap (kept)")
            else:
                self.problem(
                    "stray-partial",
                    f"{file.name} is not the newest segment of timeline "
                    f"{max(line.timelines)}: a partial belongs only at the end",
                    [file.name],
                )

    def note_old_gaps(self, recoverable: RecoverableRange | None) -> None:
        reported = {p.message for p in self.problems if p.kind == "recorded-gap"}
        for gap in self.state.gaps:
            text = f"{format_lsn(gap.start_lsn)} to {format_lsn(gap.end_lsn)}"
            if any(text in message for message in reported):
                continue
            if recoverable is not None and gap.end_lsn <= recoverable.start_lsn:
                self.notes.append(f"recorded gap {text} is older than the archive (no effect)")
            else:
                self.problem(
                    "recorded-gap",
                    f"recorded gap: WAL lost on the server, {text} on timeline "
                    f"{gap.timeline} ({gap.reason}, recorded {gap.recorded_at})",
                )

    def summaries(self, timelines: list[int]) -> tuple[TimelineSummary, ...]:
        result = []
        for timeline in timelines:
            numbers = [
                f.segment.segno for f in self.listing.segments if f.segment.timeline == timeline
            ]
            partial = next(
                (f.name for f in self.listing.partials if f.segment.timeline == timeline), None
            )
            first, last = (min(numbers), max(numbers) + 1) if numbers else (0, 0)
            result.append(
                TimelineSummary(
                    timeline, first * self.size, last * self.size, len(numbers), partial
                )
            )
        return tuple(result)


def judge(
    listing: ArchiveListing,
    state: ArchiveState,
    findings: Mapping[Path, FileFinding],
    histories: Mapping[int, tuple[TimelineSwitch, ...]],
    history_errors: Mapping[int, str] | None = None,
) -> Report:
    """Check a listed archive against what its files said; no I/O."""
    return _Judge(listing, state, findings, histories, history_errors or {}).report()
