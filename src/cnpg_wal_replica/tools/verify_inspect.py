"""The I/O half of ``verify``: read what each WAL file says about itself.

Plain segments: only the first 40 bytes (the long page header) are read. Plain partial
segments: the header, then a binary search over page headers for the last written page.
Gzip segments: fully decompressed with the standard library (CRC and length checked).
Lz4 segments: the frame magic, then fully decompressed with the ``lz4`` package (the
archive's decoder): a corrupt frame, one that ends early, or bytes after it that are no
frame make the segment unusable. Frames that follow each other are read as one stream, as
the ``lz4`` command reads them.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cnpg_wal_replica.archive.compression import DECODE_ERRORS, Decoder, decoder
from cnpg_wal_replica.archive.headers import (
    LONG_PAGE_HEADER_SIZE,
    LongPageHeader,
    parse_long_page_header,
)
from cnpg_wal_replica.archive.listing import ArchiveListing, SegmentFile
from cnpg_wal_replica.archive.partial import written_bytes

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileFinding:
    """What one segment file showed when read.

    ``content_checked``: the whole content was read back (decompressed) without error.
    ``decompressed_size``: bytes after decompression when the content was checked.
    ``written_bytes``: for a plain partial, where its last written page ends.
    ``error``: why the file cannot be used (corrupt, unreadable), else ``None``.
    """

    header: LongPageHeader | None
    content_checked: bool = False
    decompressed_size: int | None = None
    written_bytes: int | None = None
    error: str | None = None


def inspect_segment(file: SegmentFile, *, check_compressed: bool = True) -> FileFinding:
    """Read ``file`` as cheaply as its kind allows; never raises for a bad file."""
    try:
        if file.compression is None:
            return _inspect_plain(file)
        if file.compression == "gzip":
            return _inspect_gzip(file, full=check_compressed and not file.partial)
        return _inspect_lz4(file, full=check_compressed and not file.partial)
    except OSError as exc:
        return FileFinding(header=None, error=f"cannot read: {exc.strerror or exc}")


def _inspect_plain(file: SegmentFile) -> FileFinding:
    with open(file.path, "rb") as handle:
        header = parse_long_page_header(handle.read(LONG_PAGE_HEADER_SIZE))
        if not file.partial or header is None or header.block_size <= 0:
            return FileFinding(header=header)
        written = written_bytes(handle.fileno(), header.block_size)
        return FileFinding(header=header, written_bytes=written)


def _inspect_gzip(file: SegmentFile, *, full: bool) -> FileFinding:
    header: LongPageHeader | None = None
    size = 0
    try:
        with gzip.open(file.path, "rb") as handle:
            first = handle.read(LONG_PAGE_HEADER_SIZE)
            header = parse_long_page_header(first)
            if not full and not file.partial:
                return FileFinding(header=header)
            size = len(first)
            while chunk := handle.read(_CHUNK):
                size += len(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        if file.partial:  # a gzip stream being written has no end yet: count what is there
            return FileFinding(header=header, written_bytes=size or None)
        return FileFinding(header=None, error=f"gzip: {exc or type(exc).__name__}")
    if file.partial:
        return FileFinding(header=header, written_bytes=size)
    return FileFinding(header=header, content_checked=True, decompressed_size=size)


def _inspect_lz4(file: SegmentFile, *, full: bool) -> FileFinding:
    with open(file.path, "rb") as handle:
        magic = handle.read(len(LZ4_FRAME_MAGIC))
        if magic != LZ4_FRAME_MAGIC:
            if file.partial and not any(magic):
                return FileFinding(header=None)
            error = f"lz4: not an lz4 frame (starts with {magic.hex()})"
            return FileFinding(header=None, error=error)
        if not full:
            return FileFinding(header=None)
        handle.seek(0)
        try:
            first, size = _decode_lz4(handle)
        except DECODE_ERRORS as exc:
            return FileFinding(header=None, error=f"lz4: cannot decompress: {exc}")
        except EOFError as exc:
            return FileFinding(header=None, error=f"lz4: truncated: {exc}")
    return FileFinding(
        header=parse_long_page_header(first), content_checked=True, decompressed_size=size
    )


def _decode_lz4(handle: BinaryIO) -> tuple[bytes, int]:
    """The first `LONG_PAGE_HEADER_SIZE` decompressed bytes and the decompressed size.

    Raises one of `DECODE_ERRORS` for a corrupt frame, ``EOFError`` when the last has no end.
    """
    first = b""
    size = 0
    frame: Decoder | None = None  # None between frames
    raw = handle.read(_CHUNK)
    while raw:
        if frame is None:
            frame = decoder("lz4")
            assert frame is not None
        data = frame.decompress(raw)
        first += data[: LONG_PAGE_HEADER_SIZE - len(first)]
        size += len(data)
        if frame.eof:
            raw = frame.unused_data or handle.read(_CHUNK)
            frame = None
        else:
            raw = handle.read(_CHUNK)
    if frame is not None:
        raise EOFError("the file ends inside an lz4 frame")
    return first, size


def inspect_all(
    listing: ArchiveListing, *, check_compressed: bool = True
) -> dict[Path, FileFinding]:
    """Findings for every segment and partial of the listing."""
    return {
        file.path: inspect_segment(file, check_compressed=check_compressed)
        for file in (*listing.segments, *listing.partials)
    }
