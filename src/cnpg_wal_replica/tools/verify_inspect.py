"""The I/O half of ``verify``: read what each WAL file says about itself.

Plain segments: only the first 40 bytes (the long page header) are read. Plain partial
segments: the header, then a binary search over page headers for the last written page.
Gzip segments: fully decompressed with the standard library (CRC and length checked).
Lz4 segments: the frame magic, and the content through the ``lz4`` command when it exists.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

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


def lz4_command() -> str | None:
    """Path of the ``lz4`` command, if installed."""
    return shutil.which("lz4")


def inspect_segment(
    file: SegmentFile, *, check_compressed: bool = True, lz4: str | None = None
) -> FileFinding:
    """Read ``file`` as cheaply as its kind allows; never raises for a bad file."""
    try:
        if file.compression is None:
            return _inspect_plain(file)
        if file.compression == "gzip":
            return _inspect_gzip(file, full=check_compressed and not file.partial)
        return _inspect_lz4(file, lz4 if check_compressed and not file.partial else None)
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


def _inspect_lz4(file: SegmentFile, command: str | None) -> FileFinding:
    with open(file.path, "rb") as handle:
        magic = handle.read(len(LZ4_FRAME_MAGIC))
    if magic != LZ4_FRAME_MAGIC:
        if file.partial and not any(magic):
            return FileFinding(header=None)
        return FileFinding(header=None, error=f"lz4: not an lz4 frame (starts with {magic.hex()})")
    if command is None:
        return FileFinding(header=None)
    with subprocess.Popen(
        [command, "-dc", str(file.path.resolve())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        first = proc.stdout.read(LONG_PAGE_HEADER_SIZE)
        size = len(first)
        while chunk := proc.stdout.read(_CHUNK):
            size += len(chunk)
        stderr = proc.stderr.read().decode(errors="replace").strip()
        code = proc.wait()
    if code != 0:
        return FileFinding(header=None, error=f"lz4: {stderr or f'exit status {code}'}")
    return FileFinding(
        header=parse_long_page_header(first), content_checked=True, decompressed_size=size
    )


def inspect_all(
    listing: ArchiveListing, *, check_compressed: bool = True
) -> dict[Path, FileFinding]:
    """Findings for every segment and partial of the listing."""
    lz4 = lz4_command() if check_compressed else None
    return {
        file.path: inspect_segment(file, check_compressed=check_compressed, lz4=lz4)
        for file in (*listing.segments, *listing.partials)
    }
