"""The per-file half of ``verify``'s judgement: sizes, readability, page headers, identity.

`FileJudge` holds the inputs and what the checks found so far; `verify_checks` builds on it
to judge the archive as a whole (timelines, holes, partials, gaps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from cnpg_wal_replica.archive.headers import LongPageHeader
from cnpg_wal_replica.archive.history import TimelineSwitch, timeline_of_lsn
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile
from cnpg_wal_replica.archive.names import SegmentName, format_lsn
from cnpg_wal_replica.archive.state import ArchiveState
from cnpg_wal_replica.tools.verify_inspect import FileFinding
from cnpg_wal_replica.tools.verify_report import Problem


class FileJudge:
    """The inputs of the checks and what they found so far; judges each segment file."""

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

    def reject(self, file: SegmentFile, kind: str, message: str) -> None:
        """A problem with ``file``, which a restore then cannot use."""
        self.problem(kind, message, [file.name])
        self.bad.add(file.path)

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
                self.reject(file, kind, f"{file.name}: {finding.error}")
                continue
            if not file.partial and file.compression is None and file.size != self.size:
                self.reject(
                    file,
                    "wrong-size",
                    f"{file.name} has {file.size} bytes, a segment has {self.size}",
                )
            if finding.decompressed_size is not None and finding.decompressed_size != self.size:
                self.reject(
                    file,
                    "wrong-size",
                    f"{file.name} decompresses to {finding.decompressed_size} bytes, "
                    f"a segment has {self.size}",
                )
            header = finding.header
            if header is None:
                if file.compression == "lz4" and not finding.content_checked and not file.partial:
                    unchecked += 1
                elif not file.partial:
                    self.reject(file, "bad-header", f"{file.name}: no WAL page header")
                continue
            sysids[file.path] = header.system_identifier
            self.check_header(file, header)
        if unchecked:
            self.notes.append(
                f"{unchecked} lz4 segment(s): frame magic checked; content, header and system "
                "identifier not checked (--skip-compressed-content)"
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
            self.reject(file, "bad-header", f"{file.name}: {'; '.join(wrong)}")

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
