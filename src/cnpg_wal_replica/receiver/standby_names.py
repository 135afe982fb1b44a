"""Does PostgreSQL's ``synchronous_standby_names`` name a standby? (pure)

The three forms of the setting: ``FIRST n (a, b)`` (or ``n (a, b)``), ``ANY n (a, b)`` and
a bare list ``a, b``. Names may be double-quoted (``""`` inside for a quote); ``*`` stands
for every standby. PostgreSQL compares names with ``application_name`` case-insensitively.
"""

from __future__ import annotations

import re

_PREFIXED = re.compile(r"^\s*(?:(?:first|any)\s+)?\d+\s*\((?P<names>.*)\)\s*$", re.I | re.S)


def names(setting: str) -> list[str]:
    """The standby names the setting lists, unquoted, in order."""
    match = _PREFIXED.match(setting)
    body = match.group("names") if match else setting
    found: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        char = body[i]
        if quoted:
            if char == '"' and body[i + 1 : i + 2] == '"':
                current.append('"')
                i += 1
            elif char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = True
        elif char == ",":
            found.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    found.append("".join(current).strip())
    return [name for name in found if name]


def lists(setting: str, application_name: str) -> bool:
    """True when ``setting`` makes ``application_name`` a (candidate) synchronous standby."""
    wanted = application_name.casefold()
    return any(name == "*" or name.casefold() == wanted for name in names(setting))
