"""WAL file names and LSN arithmetic: segments, history files, LSNs as PostgreSQL prints them.

Pure functions. Segment size is a parameter everywhere (PostgreSQL's default is 16 MiB;
`initdb --wal-segsize` changes it). A segment's file name may carry a compression suffix
(`compression.SUFFIXES`) and then ``.partial`` while pg_receivewal writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnpg_wal_replica.archive.compression import SUFFIXES

DEFAULT_SEGMENT_SIZE = 16 * 1024 * 1024

MIN_SEGMENT_SIZE = 1 << 20
MAX_SEGMENT_SIZE = 1 << 30

PARTIAL_SUFFIX = ".partial"
"""Suffix of the segment pg_receivewal is writing (after any compression suffix)."""

COMPRESSION_SUFFIXES = {suffix: method for method, suffix in SUFFIXES.items() if suffix}
"""File-name suffix of a compressed segment, to the compression method's name."""

_SEGMENT_RE = re.compile(r"^(?P<tli>[0-9A-F]{8})(?P<log>[0-9A-F]{8})(?P<seg>[0-9A-F]{8})$")
_HISTORY_RE = re.compile(r"^(?P<tli>[0-9A-F]{8})\.history$")
_LSN_RE = re.compile(r"^(?P<hi>[0-9A-Fa-f]{1,8})/(?P<lo>[0-9A-Fa-f]{1,8})$")


def parse_lsn(text: str) -> int:
    """Parse an LSN written as ``X/Y`` (hex halves) into an integer."""
    match = _LSN_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not an LSN: {text!r} (expected the form 0/3000060)")
    return (int(match["hi"], 16) << 32) | int(match["lo"], 16)


def format_lsn(lsn: int) -> str:
    """Format an integer LSN as PostgreSQL prints it (``0/3000060``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def is_valid_segment_size(size: int) -> bool:
    """Whether PostgreSQL can have segments of ``size`` bytes: a power of two, 1 MiB to 1 GiB."""
    return MIN_SEGMENT_SIZE <= size <= MAX_SEGMENT_SIZE and size & (size - 1) == 0


def segments_per_xlogid(segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """How many segments one 4 GiB "xlogid" holds (the middle part of a file name)."""
    return 0x1_0000_0000 // segment_size


@dataclass(frozen=True, order=True)
class SegmentName:
    """A WAL segment file name: timeline plus segment number."""

    timeline: int
    segno: int

    def name(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
        """The 24-hex-digit file name, e.g. ``000000010000000000000003``."""
        per = segments_per_xlogid(segment_size)
        return f"{self.timeline:08X}{self.segno // per:08X}{self.segno % per:08X}"

    def partial_name(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> str:
        """The name pg_receivewal writes the (uncompressed) segment under until it is complete."""
        return self.name(segment_size) + PARTIAL_SUFFIX

    def start_lsn(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
        """The first LSN inside the segment."""
        return self.segno * segment_size

    def end_lsn(self, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
        """The LSN just past the segment's end."""
        return (self.segno + 1) * segment_size


def parse_segment_name(name: str, segment_size: int = DEFAULT_SEGMENT_SIZE) -> SegmentName | None:
    """Parse a bare segment file name (no suffix); ``None`` if it is not one."""
    match = _SEGMENT_RE.match(name)
    if match is None:
        return None
    per = segments_per_xlogid(segment_size)
    seg = int(match["seg"], 16)
    if seg >= per:
        return None
    return SegmentName(int(match["tli"], 16), int(match["log"], 16) * per + seg)


def classify_segment_name(
    name: str, segment_size: int
) -> tuple[SegmentName, str | None, bool] | None:
    """``(segment, compression, partial)`` for a segment file name, else ``None``."""
    partial = name.endswith(PARTIAL_SUFFIX)
    stem = name.removesuffix(PARTIAL_SUFFIX) if partial else name
    compression: str | None = None
    for suffix, method in COMPRESSION_SUFFIXES.items():
        if stem.endswith(suffix):
            stem, compression = stem.removesuffix(suffix), method
            break
    segment = parse_segment_name(stem, segment_size)
    if segment is None:
        return None
    return segment, compression, partial


def segment_for_lsn(
    timeline: int, lsn: int, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> SegmentName:
    """The segment of ``timeline`` that contains ``lsn``."""
    return SegmentName(timeline, lsn // segment_size)


def parse_history_name(name: str) -> int | None:
    """The timeline of a ``0000000N.history`` file name, else ``None``."""
    match = _HISTORY_RE.match(name)
    return int(match["tli"], 16) if match else None


def history_name(timeline: int) -> str:
    """The history file name of ``timeline``."""
    return f"{timeline:08X}.history"
