"""The one rule that keeps a generated name within a length limit (pure).

Kubernetes object names and label values (DNS-1123 labels) and PostgreSQL names such as
`application_name` (NAMEDATALEN - 1 bytes) all fit in `MAX_NAME` characters. A name built
as ``base + suffix`` that would be longer keeps the suffix and ``-`` plus `HASH_CHARS` hex
digits of the SHA-256 of the unshortened name, after as much of ``base`` as fits (without
a trailing ``-`` or ``.``). Deterministic, and a name that fits never changes.
`specs.names` builds the names of the objects from it.
"""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 63
"""A DNS-1123 label, a label value and a PostgreSQL identifier all fit in 63."""
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


_SLOT_NAME = re.compile(f"[a-z0-9_]{{1,{MAX_NAME}}}")


def is_dns1123_label(name: str) -> bool:
    """A namespace or label-like name: lower-case letters, digits, '-', at most 63."""
    return len(name) <= MAX_NAME and _DNS1123_LABEL.fullmatch(name) is not None


def is_slot_name(name: str) -> bool:
    """A replication slot name PostgreSQL accepts: lower-case letters, digits, '_', 1 to 63."""
    return _SLOT_NAME.fullmatch(name) is not None


HASH_CHARS = 8


def fit(base: str, suffix: str, limit: int = MAX_NAME) -> str:
    """``base + suffix`` when it fits in ``limit``, else cut ``base`` and add a hash.

    Distinct inputs keep distinct results (by the hash of the whole name). ``base`` is
    ASCII wherever this is used, so characters are bytes.
    """
    whole = f"{base}{suffix}"
    if len(whole) <= limit:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:HASH_CHARS]
    head = base[: max(limit - len(suffix) - HASH_CHARS - 1, 0)].rstrip("-.")
    return f"{head}-{digest}{suffix}" if head else f"{digest}{suffix}"
