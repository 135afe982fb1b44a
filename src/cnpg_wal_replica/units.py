"""Parsing of Kubernetes quantities and human durations, shared by the plugin and receiver."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_DURATION_RE = re.compile(r"^(?:(?P<n>[0-9]+)(?P<unit>[smhdw]))+$")
_DURATION_PART_RE = re.compile(r"([0-9]+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_quantity(text: str) -> Decimal:
    """Parse a Kubernetes resource quantity (``10Gi``, ``500m``, ``1e3``) to a Decimal.

    Raises ``ValueError`` with the accepted forms when ``text`` is not a quantity.
    """
    match = _QUANTITY_RE.match(text.strip()) if text else None
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (examples: 10Gi, 500Mi, 250m, 2)")
    try:
        number = Decimal(match["num"])
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    if suffix:
        return number * (Decimal(10) ** int(suffix[1:]))
    return number


def parse_bytes(text: str) -> int:
    """Parse a byte size given as a quantity (``8Gi``) or a plain integer; must be > 0."""
    value = parse_quantity(text)
    if value <= 0 or value != value.to_integral_value():
        raise ValueError(f"{text!r} is not a positive whole number of bytes (example: 8Gi)")
    return int(value)


def parse_duration(text: str) -> int:
    """Parse a duration such as ``90s``, ``36h``, ``7d``, ``1w2d`` or plain seconds; > 0."""
    stripped = text.strip()
    if stripped.isdigit():
        seconds = int(stripped)
    elif _DURATION_RE.match(stripped):
        seconds = sum(int(n) * _SECONDS[u] for n, u in _DURATION_PART_RE.findall(stripped))
    else:
        raise ValueError(
            f"{text!r} is not a duration (examples: 3600, 90m, 36h, 7d, 2w; units s m h d w)"
        )
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds
