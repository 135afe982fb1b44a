"""The `walDirectory` parameter: an absolute, normalised path clear of the image's own.

A WAL volume mounted on, inside or above a directory of the image or the pod would hide what
the receiver runs from, so such paths are refused with the reason and, where one exists,
the normalised path to use instead.
"""

from __future__ import annotations

import posixpath
import re

from cnpg_wal_replica.bounds import BadValueError

_PATH_PART = re.compile(r"[A-Za-z0-9._-]+")
MAX_PATH = 1024
"""No WAL directory needs more; PATH_MAX (4096) must leave room for the files in it."""
MAX_PATH_PART = 255
"""NAME_MAX of Linux file systems."""
RESERVED_DIRECTORIES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",  # also the receiver's certificate mounts, /etc/wal-receiver/{ca,tls}
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt/venv",  # the receiver itself (Dockerfile: COPY --from=builder /opt/venv)
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/tmp",  # noqa: S108 - HOME, WORKDIR and the pod's emptyDir mount; not a file we create
    "/usr",  # Python, pg_receivewal (/usr/lib/postgresql), the PGDG key
    "/var/cache",
    "/var/lib/apt",
    "/var/lib/dpkg",
    "/var/run",
    "/var/tmp",  # noqa: S108 - a path users may not choose, not a file we create
)
"""Directories of the image and the pod: a WAL volume mounted on one, inside one or on a
parent of one would hide what the receiver runs from (tests/unit/test_dockerfile.py checks
this list against the Dockerfile)."""


def wal_directory(raw: str) -> str:
    """An absolute, normalised directory path that is not, in or above a system directory."""
    value = raw.strip()
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    if len(value) > MAX_PATH:
        raise ValueError(f"is longer than {MAX_PATH} characters")
    parts = value[1:].split("/")
    if any(not _PATH_PART.fullmatch(part) for part in parts if part):
        raise ValueError("may contain only ASCII letters, digits, '.', '_', '-' and '/'")
    if value == "/":
        raise ValueError("must not be the root directory")
    if any(part in ("", ".", "..") for part in parts):
        raise BadValueError(
            "is not normalised: no empty, '.' or '..' parts, no trailing '/'",
            _normalised_example(value),
        )
    if any(len(part) > MAX_PATH_PART for part in parts):
        raise ValueError(f"has a part longer than {MAX_PATH_PART} characters")
    for reserved in RESERVED_DIRECTORIES:
        if value == reserved or value.startswith(reserved + "/"):
            raise ValueError(f"must not be inside the system directory {reserved}")
        if reserved.startswith(value + "/"):
            raise ValueError(f"must not be a parent of the system directory {reserved}")
    return value


def _normalised_example(value: str) -> str | None:
    """The normalised form of ``value`` when that is a valid WAL directory, else None."""
    candidate = "/" + "/".join(p for p in posixpath.normpath(value).split("/") if p)
    try:
        return wal_directory(candidate) if candidate != value else None
    except ValueError:
        return None
