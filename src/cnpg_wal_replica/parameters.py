"""The plugin parameters: one spec per parameter, each with its own parser and example.

Every parser takes the raw string and returns a normalised value or raises ``ValueError``
whose text says what is wrong; ``config.parse`` adds the parameter, the value and an example.
This registry also generates `docs/parameters.md`, so the docs cannot drift from the code.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnpg_wal_replica.archive.compression import parse_compression
from cnpg_wal_replica.bounds import (
    BadValueError,
    cpu_quantity,
    duration,
    memory_quantity,
    retention_size,
    wal_volume_size,
)
from cnpg_wal_replica.metadata import SYNCHRONOUS_RULE
from cnpg_wal_replica.naming import is_slot_name
from cnpg_wal_replica.reading import READERS_EXAMPLE, readers_parameter
from cnpg_wal_replica.walpath import wal_directory

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$"
)
_IMAGE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def image_reference(raw: str) -> str:
    """A container image reference such as ``ghcr.io/org/image:1.2.3``."""
    value = raw.strip()
    if not value or len(value) > 512 or not _IMAGE.match(value):
        raise ValueError("is not a container image reference")
    return value


def host(raw: str) -> str:
    """A DNS host name or an IP address."""
    value = raw.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise ValueError("is neither a host name nor an IP address")
    return value.lower()


def active_inactive(raw: str) -> bool:
    """``active`` or ``inactive``, in any case."""
    value = raw.strip().lower()
    if value not in ("active", "inactive"):
        raise ValueError("must be active or inactive")
    return value == "active"


def true_false(raw: str) -> bool:
    """``true`` or ``false``, in any case."""
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise ValueError("must be true or false")
    return value == "true"


def storage_class(raw: str) -> str:
    """A StorageClass name (DNS-1123 subdomain)."""
    value = raw.strip()
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError("is not a valid StorageClass name (lower-case DNS-1123 subdomain)")
    return value


def slot_name(raw: str) -> str:
    """A physical replication slot name not in CNPG's own `_cnpg_` namespace."""
    value = raw.strip()
    if not is_slot_name(value):
        raise ValueError("may contain only lower-case letters, digits and '_' (1 to 63)")
    if value.startswith("_cnpg_"):
        raise ValueError("must not start with _cnpg_, which CNPG uses for its own HA slots")
    return value


def application_name(raw: str) -> str:
    """A PostgreSQL application_name usable in `synchronous_standby_names`."""
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value.encode()) > 63:
        raise ValueError("is longer than 63 bytes, which PostgreSQL would truncate")
    if any(not (32 <= ord(c) < 127) for c in value) or '"' in value:
        raise ValueError('may contain only printable ASCII characters other than "')
    return value


def compression(raw: str) -> str:
    """What `pg_receivewal --compress` accepts, normalised: none, gzip[:N] or lz4[:N]."""
    try:
        return parse_compression(raw).argument()
    except ValueError as exc:
        method = raw.strip().lower().partition(":")[0]
        raise BadValueError(str(exc), {"lz4": "lz4:5", "none": "none"}.get(method)) from None


@dataclass(frozen=True)
class ParameterSpec:
    """One plugin parameter: its name, how to parse it, its default and an example."""

    name: str
    parse: Callable[[str], Any]
    default: str
    rule: str
    example: str
    immutable: bool = False


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "image",
        image_reference,
        "the plugin server's receiver image",
        "container image reference; must contain `pg_receivewal`",
        "ghcr.io/documentdb/cnpg-wal-replica:0.1.0",
    ),
    ParameterSpec(
        "replicationHost",
        host,
        "`status.writeService` (`<cluster>-rw`)",
        "host name or IP; must be in the server certificate (verify-full)",
        "mycluster-rw",
    ),
    ParameterSpec(
        "synchronous",
        active_inactive,
        "inactive",
        SYNCHRONOUS_RULE,
        "active",
    ),
    ParameterSpec(
        "walDirectory",
        wal_directory,
        "/var/lib/postgresql/wal",
        "absolute, normalised path of ASCII letters, digits, `._-/` (≤ 1024); not a system "
        "or image directory, nor inside or above one (docs/troubleshooting.md lists them); "
        "cannot change later",
        "/var/lib/postgresql/wal",
        immutable=True,
    ),
    ParameterSpec(
        "walPVCSize",
        wal_volume_size,
        "10Gi",
        "whole bytes, 32Mi to 8Ei; may grow later, never shrink",
        "20Gi",
    ),
    ParameterSpec(
        "walStorageClass",
        storage_class,
        "the cluster's default StorageClass",
        "StorageClass name; cannot change once the volume exists",
        "fast-ssd",
        immutable=True,
    ),
    ParameterSpec(
        "slotName",
        slot_name,
        "wal_replica",
        "physical slot name ([a-z0-9_], ≤ 63), not starting with `_cnpg_`; cannot change later",
        "wal_replica",
        immutable=True,
    ),
    ParameterSpec(
        "applicationName",
        application_name,
        "`<cluster>-wal-receiver`",
        '≤ 63 bytes of printable ASCII without `"`',
        "mycluster-wal-receiver",
    ),
    ParameterSpec(
        "compression",
        compression,
        "none",
        "none, gzip, gzip:1-9, lz4, lz4:1-12, or a gzip level 0-9",
        "gzip:5",
    ),
    ParameterSpec("verbose", true_false, "false", "true or false", "true"),
    ParameterSpec(
        "cpuRequest", cpu_quantity, "unset", "CPU quantity, 1m to 1000; ≤ cpuLimit", "100m"
    ),
    ParameterSpec(
        "memoryRequest",
        memory_quantity,
        "unset",
        "memory quantity, whole bytes, 32Mi to 8Ei; ≤ memoryLimit",
        "128Mi",
    ),
    ParameterSpec("cpuLimit", cpu_quantity, "unset", "CPU quantity, 1m to 1000", "1"),
    ParameterSpec(
        "memoryLimit",
        memory_quantity,
        "unset",
        "memory quantity, whole bytes, 32Mi to 8Ei",
        "512Mi",
    ),
    ParameterSpec(
        "retentionMaxAge",
        duration,
        "unset (keep everything)",
        "duration up to 100 years (s m h d w): complete segments older than this are removed",
        "7d",
    ),
    ParameterSpec(
        "retentionMaxSize",
        retention_size,
        "unset (keep everything)",
        "whole bytes, 16Mi or more, < walPVCSize: oldest complete segments are removed "
        "beyond this size",
        "8Gi",
    ),
    ParameterSpec(
        "readers",
        readers_parameter,
        "unset (only Clusters of this Cluster's namespace)",
        "comma-separated `namespace/cluster` or `namespace/*`: Clusters of other namespaces "
        "that may read this receiver's WAL (docs/wal-server.md)",
        READERS_EXAMPLE,
    ),
)

BY_NAME: dict[str, ParameterSpec] = {spec.name: spec for spec in PARAMETERS}
