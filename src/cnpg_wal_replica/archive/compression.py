"""The WAL compression setting, parsed once for the plugin parameter and the receiver.

Accepts what `pg_receivewal --compress` (PostgreSQL 15+) accepts: ``none``, ``gzip``,
``gzip:1-9``, ``lz4``, ``lz4:1-12``; the old integer form 0-9 still means a gzip level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
