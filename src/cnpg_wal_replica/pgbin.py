"""Where Debian installs PostgreSQL's programs: ``/usr/lib/postgresql/<major>/bin``.

Several majors can be installed side by side; the newest that has the program wins.
"""

from __future__ import annotations

from pathlib import Path

DEBIAN_ROOT = Path("/usr/lib/postgresql")


def newest_program(name: str, root: Path = DEBIAN_ROOT) -> Path | None:
    """``<root>/<major>/bin/<name>`` of the highest major that has it, else ``None``."""
    found = [p for p in root.glob(f"*/bin/{name}") if p.parent.parent.name.isdigit()]
    return max(found, key=lambda p: int(p.parent.parent.name), default=None)
