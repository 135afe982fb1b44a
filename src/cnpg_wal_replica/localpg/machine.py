"""What this machine offers a throwaway PostgreSQL: its binaries, a free port, a user to run as.

When running as root, the server runs as the ``postgres`` user (initdb refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
from pathlib import Path

from cnpg_wal_replica.pgbin import newest_program

SUPERUSER = "postgres"
PG_VERSION = "15"


def find_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<n>/bin`` that has ``postgres``, else PATH's."""
    newest = newest_program("postgres")
    if newest is not None:
        return newest.parent
    found = shutil.which("postgres")
    if found is None:
        raise FileNotFoundError(
            "PostgreSQL server binaries not found: install postgresql-15 "
            "(apt-get install postgresql-15) or put its bin directory on PATH"
        )
    return Path(found).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_run_as() -> str | None:
    """``postgres`` when running as root (initdb refuses root), else ``None``."""
    return SUPERUSER if os.geteuid() == 0 else None


def chown(path: Path, user: str) -> None:
    """Give ``path`` to ``user`` and that user's group."""
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
