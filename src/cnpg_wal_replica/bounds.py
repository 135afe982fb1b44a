"""Parsers of the plugin's quantity and duration parameters, with the bounds of what can be meant.

Kubernetes silently caps quantities above 2^63-1 and rounds anything finer than its
precision up (``1n`` of memory becomes ``1m``, a thousandth of a byte), so values the API
server would change are refused here, each with one valid example that fits the problem.
"""

from __future__ import annotations

from decimal import Decimal

from cnpg_wal_replica.units import parse_duration, parse_quantity

KUBERNETES_MAX = 2**63 - 1
"""The largest quantity Kubernetes represents; larger values are silently capped."""
MIN_WAL_VOLUME = 32 * 2**20
"""Room for the partial segment and one complete 16 MiB segment."""
MIN_RETENTION_SIZE = 16 * 2**20
"""One 16 MiB WAL segment."""
MIN_MEMORY = 32 * 2**20
"""Below this the receiver (Python and pg_receivewal) cannot even start."""
MAX_CPU = 1000
"""More CPUs than any node has: a typo, not a plan."""
MAX_DURATION_SECONDS = 100 * 365 * 86400
"""A hundred years; longer cannot be meant."""
MAX_TEXT = 64
"""No valid quantity or duration is longer (and Python refuses > 4300-digit integers)."""


class BadValueError(ValueError):
    """A parser's refusal, with the example that fits this problem (else the parameter's)."""

    def __init__(self, message: str, example: str | None = None) -> None:
        super().__init__(message)
        self.example = example


def _quantity(raw: str, example: str) -> Decimal:
    if len(raw) > MAX_TEXT:
        raise BadValueError(f"is longer than {MAX_TEXT} characters, so not a quantity", example)
    try:
        value = parse_quantity(raw)
    except ValueError:
        raise BadValueError("is not a Kubernetes quantity", example) from None
    if value <= 0:
        raise BadValueError("must be greater than zero", example)
    return value


def _bytes(raw: str, minimum: int, example: str) -> int:
    value = _quantity(raw, example)
    if value != value.to_integral_value():
        raise BadValueError("is not a whole number of bytes", example)
    if value > KUBERNETES_MAX:
        raise BadValueError("is larger than Kubernetes can represent (8Ei)", example)
    if value < minimum:
        raise BadValueError(f"is smaller than {minimum // 2**20}Mi", example)
    return int(value)


def wal_volume_size(raw: str) -> int:
    """A volume size in bytes: whole bytes, 32Mi to 8Ei (``10Gi``)."""
    return _bytes(raw, MIN_WAL_VOLUME, "20Gi")


def retention_size(raw: str) -> int:
    """A retention size in bytes: whole bytes, 16Mi to 8Ei (``8Gi``)."""
    return _bytes(raw, MIN_RETENTION_SIZE, "8Gi")


def cpu_quantity(raw: str) -> str:
    """A CPU quantity: a whole number of millicores from 1m to 1000 (``500m``, ``2``)."""
    value = _quantity(raw, "500m")
    if value * 1000 != (value * 1000).to_integral_value():
        raise BadValueError("is finer than a millicore, which Kubernetes would round up", "500m")
    if value > MAX_CPU:
        raise BadValueError(f"is more than {MAX_CPU} CPUs", "2")
    return raw.strip()


def memory_quantity(raw: str) -> str:
    """A memory quantity: whole bytes from 32Mi to 8Ei (``256Mi``)."""
    _bytes(raw, MIN_MEMORY, "256Mi")
    return raw.strip()


def duration(raw: str) -> int:
    """A duration in seconds (``3600``, ``90m``, ``36h``, ``7d``, ``2w``), at most 100 years."""
    if len(raw) > MAX_TEXT:
        raise BadValueError(f"is longer than {MAX_TEXT} characters, so not a duration")
    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise BadValueError("is not a positive duration (units s m h d w)") from None
    if seconds > MAX_DURATION_SECONDS:
        raise BadValueError("is longer than 100 years")
    return seconds
