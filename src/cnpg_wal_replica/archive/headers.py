"""The long page header that starts every WAL segment (``XLogLongPageHeaderData``)."""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

XLP_LONG_HEADER = 0x0002
"""``xlp_info`` flag of the long page header that starts every WAL segment."""

LONG_PAGE_HEADER_SIZE = 40
"""Bytes of ``XLogLongPageHeaderData`` (short header, 4 bytes padding, sysid, sizes)."""

_LONG_PAGE_HEADER = struct.Struct("<HHIQI4xQII")


@dataclass(frozen=True)
class LongPageHeader:
    """``XLogLongPageHeaderData``: the header of the first page of a WAL segment."""

    magic: int
    info: int
    timeline: int
    page_address: int
    remaining_length: int
    system_identifier: int
    segment_size: int
    block_size: int

    @property
    def is_long(self) -> bool:
        """Whether ``xlp_info`` marks this as a long header (a segment's first page)."""
        return bool(self.info & XLP_LONG_HEADER)

    def pack(self) -> bytes:
        """The 40 bytes PostgreSQL writes (little-endian); used to build test segments."""
        return _LONG_PAGE_HEADER.pack(
            self.magic,
            self.info,
            self.timeline,
            self.page_address,
            self.remaining_length,
            self.system_identifier,
            self.segment_size,
            self.block_size,
        )


def parse_long_page_header(data: bytes) -> LongPageHeader | None:
    """Decode the first 40 bytes of a segment; ``None`` when too short or all zeros."""
    if len(data) < LONG_PAGE_HEADER_SIZE or not any(data[:LONG_PAGE_HEADER_SIZE]):
        return None
    return LongPageHeader(*_LONG_PAGE_HEADER.unpack_from(data))


def read_long_header(path: Path, compression: str | None) -> LongPageHeader | None:
    """The header at the start of a plain or gzip segment file; ``None`` when it cannot be
    read (lz4, unreadable or corrupt, too short) or is all zeros."""
    if compression not in (None, "gzip"):
        return None
    opener = gzip.open if compression == "gzip" else open
    try:
        with opener(path, "rb") as handle:
            return parse_long_page_header(handle.read(LONG_PAGE_HEADER_SIZE))
    except (OSError, EOFError, zlib.error):
        return None
