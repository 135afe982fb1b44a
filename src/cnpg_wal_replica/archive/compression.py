"""The WAL compression setting, and the decoders of what it writes.

The setting is parsed once for the plugin parameter and the receiver. It accepts what
`pg_receivewal --compress` (PostgreSQL 15+) accepts: ``none``, ``gzip``, ``gzip:1-9``,
``lz4``, ``lz4:1-12``; the old integer form 0-9 still means a gzip level.

`decoder` is the one place segments are decompressed from (the WAL server and ``verify``):
a gzip member as pg_receivewal writes it (zlib), an lz4 frame (the ``lz4`` package).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal, Protocol

Method = Literal["none", "gzip", "lz4"]
LEVELS: dict[str, tuple[int, int]] = {"gzip": (1, 9), "lz4": (1, 12)}
SUFFIXES: dict[str, str] = {"none": "", "gzip": ".gz", "lz4": ".lz4"}


@dataclass(frozen=True)
class Compression:
    """A compression method and an optional level."""

    method: Method
    level: int | None = None

    def argument(self) -> str:
        """The value of ``--compress`` (``gzip:5``, ``lz4``, ``none``)."""
        return self.method if self.level is None else f"{self.method}:{self.level}"

    @property
    def suffix(self) -> str:
        """File-name suffix of completed segments (``.gz``, ``.lz4`` or empty)."""
        return SUFFIXES[self.method]


def parse_compression(text: str) -> Compression:
    """Parse a compression setting; ``ValueError`` says what is accepted."""
    value = text.strip().lower()
    if value.isdigit():
        level = int(value)
        if level > 9:
            raise ValueError("as a number must be a gzip level from 0 (none) to 9")
        return Compression("none") if level == 0 else Compression("gzip", level)
    method, sep, level_text = value.partition(":")
    if method == "none":
        if sep:
            raise ValueError("none takes no level (use none)")
        return Compression("none")
    if method == "gzip":
        chosen: Method = "gzip"
    elif method == "lz4":
        chosen = "lz4"
    else:
        raise ValueError("must be none, gzip, gzip:1-9, lz4 or lz4:1-12")
    if not sep:
        return Compression(chosen)
    low, high = LEVELS[chosen]
    if not level_text.isdigit() or not low <= int(level_text) <= high:
        raise ValueError(f"has a {chosen} level outside {low}-{high}")
    return Compression(chosen, int(level_text))


class Decoder(Protocol):
    """A streaming decompressor: what zlib's and lz4's share."""

    @property
    def eof(self) -> bool:
        """Whether the end of the stream (gzip member, lz4 frame) was reached."""
        ...

    @property
    def unused_data(self) -> bytes | None:
        """What came after the end of the stream (lz4 says ``None`` for nothing)."""
        ...

    def decompress(self, data: bytes) -> bytes:
        """The bytes ``data`` decodes to; raises one of `DECODE_ERRORS` when corrupt."""
        ...


DECODE_ERRORS: tuple[type[Exception], ...] = (zlib.error, RuntimeError)
"""What a `Decoder` raises on data it cannot decode (lz4 raises ``RuntimeError``)."""


def decoder(method: str | None) -> Decoder | None:
    """A fresh decoder for ``gzip`` or ``lz4``; ``None`` for plain (``None`` or ``none``)."""
    if method == "gzip":
        return zlib.decompressobj(wbits=31)  # a gzip member, as pg_receivewal writes
    if method == "lz4":
        import lz4.frame  # imported only where lz4 segments are read

        frame: Decoder = lz4.frame.LZ4FrameDecompressor()
        return frame
    return None
