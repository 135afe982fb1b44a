"""The pure half of ``verify``: from a listing and what its files said, to a `Report`.

The restore target is the newest timeline in the directory. Its history file gives the
timelines it descends from and where each began; for every segment number the file that
recovery would read is the one of the newest of those timelines that had begun by then
(so the segment where a switch happens is read from the new timeline). The recoverable
range is the run of such files, without a hole, that ends at the newest one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from cnpg_wal_replica.archive.headers import LongPageHeader
from cnpg_wal_replica.archive.history import TimelineSwitch, timeline_of_lsn
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile
from cnpg_wal_replica.archive.names import SegmentName, format_lsn, history_name
from cnpg_wal_replica.archive.state import ArchiveState, Gap
from cnpg_wal_replica.tools.verify_inspect import FileFinding
from cnpg_wal_replica.tools.verify_report import Problem, RecoverableRange, Report, TimelineSummary


def _runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted integers grouped into inclusive runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


class _Judge:
    """Holds the inputs while the checks run; `report()` is the only public step."""

    def __init__(
        self,
        listing: ArchiveListing,
        state: ArchiveState,
        findings: Mapping[Path, FileFinding],
        histories: Mapping[int, tuple[TimelineSwitch, ...]],
        history_errors: Mapping[int, str],
    ) -> None:
        self.listing = listing
        self.size = listing.segment_size
        self.state = state
        self.findings = findings
        self.histories = histories
        self.history_errors = history_errors
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.bad: set[Path] = set()

    def name(self, timeline: int, segno: int) -> str:
        return SegmentName(timeline, segno).name(self.size)

    def problem(self, kind: str, message: str, files: Iterable[str] = ()) -> None:
        self.problems.append(Problem(kind, message, tuple(files)))

    # -- per-file checks ---------------------------------------------------------------

    def check_files(self) -> str | None:
        """Sizes, readability, headers and system identifiers; returns the expected sysid."""
        sysids: dict[Path, int] = {}
        unchecked = 0
        for file in (*self.listing.segments, *self.listing.partials):
            finding = self.findings.get(file.path)
            if finding is None:
                continue
            if finding.error is not None:
                kind = "corrupt-compressed" if file.compression else "unreadable"
                self.problem(kind, f"{file.name}: {finding.error}", [file.name])
                self.bad.add(file.path)
                continue
            if not file.partial and file.compression is None and file.size != self.size:
                self.problem(
                    "wrong-size",
                    f"{file.name} has {file.size} bytes, a segment has {self.size}",
                    [file.name],
                )
                self.bad.add(file.path)
            if finding.decompressed_size is not None and finding.decompressed_size != self.size:
                self.problem(
                    "wrong-size",
                    f"{file.name} decompresses to {finding.decompressed_size} bytes, "
                    f"a segment has {self.size}",
                    [file.name],
                )
                self.bad.add(file.path)
            header = finding.header
            if header is None:
                if file.compression == "lz4" and not finding.content_checked and not file.partial:
                    unchecked += 1
                elif not file.partial:
                    self.problem("bad-header", f"{file.name}: no WAL page header", [file.name])
                    self.bad.add(file.path)
                continue
            sysids[file.path] = header.system_identifier
            self.check_header(file, header)
        if unchecked:
            self.notes.append(
                f"{unchecked} lz4 segment(s): frame magic checked; content, header and system "
                "identifier not checked (no lz4 command found, or --skip-compressed-content)"
            )
        return self.check_system(sysids)

    def check_header(self, file: SegmentFile, header: LongPageHeader) -> None:
        segment = file.segment
        start = segment.start_lsn(self.size)
        wrong: list[str] = []
        if not header.is_long:
            wrong.append("first page has no long header")
        if header.segment_size != self.size:
            wrong.append(f"segment size {header.segment_size}, expected {self.size}")
        if header.page_address != start:
            wrong.append(
                f"holds WAL at {format_lsn(header.page_address)}, its name says {format_lsn(start)}"
            )
        history = self.histories.get(segment.timeline)
        if history is not None:
            # the switch segment starts with pages copied from the parent timeline
            expected = timeline_of_lsn(history, segment.timeline, start)
            tli_ok = expected <= header.timeline <= segment.timeline
        else:  # unknown ancestry (reported elsewhere): any older timeline may be copied in
            tli_ok = 0 < header.timeline <= segment.timeline
        if not tli_ok:
            wrong.append(f"page header says timeline {header.timeline}")
        if wrong:
            self.problem("bad-header", f"{file.name}: {'; '.join(wrong)}", [file.name])
            self.bad.add(file.path)

    def check_system(self, sysids: Mapping[Path, int]) -> str | None:
        expected = self.state.system_identifier
        source = "the state file"
        if expected is None and sysids:
            expected = str(Counter(sysids.values()).most_common(1)[0][0])
            source = "most segments"
        foreign: dict[int, list[str]] = {}
        for path, sysid in sysids.items():
            if str(sysid) != expected:
                foreign.setdefault(sysid, []).append(path.name)
                self.bad.add(path)
        for sysid, names in sorted(foreign.items()):
            self.problem(
                "foreign-system",
                f"{len(names)} file(s) from system {sysid}, not {expected} ({source}): "
                f"{', '.join(sorted(names)[:5])}{' …' if len(names) > 5 else ''}",
                sorted(names),
            )
        return expected

    # -- timelines, contiguity, partials -------------------------------------------------

    def ancestry(self, target: int) -> list[tuple[int, int]]:
        """``(timeline, begin segno)`` from the oldest ancestor to ``target``."""
        history = self.histories.get(target, ())
        if not history:
            return [(target, 0)]
        begins = [(history[0].parent, 0)]
        for switch, child in zip(history, [*(s.parent for s in history[1:]), target], strict=True):
            begins.append((child, switch.switch_lsn // self.size))
        return begins

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
        begins = self.ancestry(target)
        on_path = {tli for tli, _ in begins}

        def needed(segno: int) -> int:
            return next(tli for tli, begin in reversed(begins) if begin <= segno)

        switches = {(parent, begin) for (parent, _), (_, begin) in itertools.pairwise(begins)}
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
        self.check_partials(last_partial, begins)
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

    def check_partials(self, last: SegmentFile | None, begins: list[tuple[int, int]]) -> None:
        switch_segments = {
            (parent, begin) for (parent, _), (_, begin) in itertools.pairwise(begins)
        }
        for file in self.listing.partials:
            key = (file.segment.timeline, file.segment.segno)
            if file is last or file.path in self.bad:
                continue
            if key in switch_segments:
                self.notes.append(f"{file.name}: superseded by the next timeline (kept)")
            elif self.gap_for(file.segment.segno, file.segment.segno) is not None:
                self.notes.append(f"{file.name}: received up to a recorded gap (kept)")
            else:
                self.problem(
                    "stray-partial",
                    f"{file.name} is not the newest segment of timeline "
                    f"{max(tli for tli, _ in begins)}: a partial belongs only at the end",
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
