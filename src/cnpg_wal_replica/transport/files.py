"""The PEM files a mutual-TLS server is given; no grpc import, so settings can hold them
before `grpc_env.prepare` has run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a server's identity and of the clients it trusts, with the setting that
    names each (for error messages)."""

    server_cert: Path
    server_key: Path
    client_cert: Path
    """CA bundle or self-signed client certificate that client certificates must chain to."""
    settings: tuple[str, str, str] = (
        "--server-cert / SERVER_CERT",
        "--server-key / SERVER_KEY",
        "--client-cert / CLIENT_CERT",
    )
    """What a user edits to change each file, in the order of the three paths."""


Stamp = tuple[tuple[int, int], ...]


def file_stamp(paths: Iterable[Path]) -> Stamp:
    """(mtime_ns, size) of each file, ``(-1, -1)`` for one briefly missing: what changes
    when cert-manager rotates a mounted Secret, for three ``stat`` calls."""
    stamps = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            stamps.append((-1, -1))
        else:
            stamps.append((info.st_mtime_ns, info.st_size))
    return tuple(stamps)
