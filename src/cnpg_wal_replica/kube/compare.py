"""Pure comparison of desired and live objects: does applying change anything?

A steady-state reconcile must write nothing, so the plugin applies only when the desired
object changed since it was last applied (a hash annotation) or someone changed a field the
plugin owns (the desired fields are not all present, equal, in the live object).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from cnpg_wal_replica.metadata import ANNOTATION_DESIRED_HASH
from cnpg_wal_replica.units import parse_quantity

_QUANTITY_PARENTS = ("requests", "limits", "capacity")


def desired_hash(obj: dict[str, Any]) -> str:
    """A short, stable hash of an object without its hash annotation."""
    clean = copy.deepcopy(obj)
    meta = clean.get("metadata", {})
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(ANNOTATION_DESIRED_HASH, None)
        if not annotations:
            del meta["annotations"]
    return hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()[:20]


def with_hash(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying its own desired-hash annotation."""
    stamped = copy.deepcopy(obj)
    annotations = stamped.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[ANNOTATION_DESIRED_HASH] = desired_hash(obj)
    return stamped


def is_subset(desired: Any, live: Any, parent: str = "") -> bool:
    """Whether every field of ``desired`` is present and equal in ``live``.

    Lists must match element by element (same length); quantities under
    requests/limits compare by value, as the API server normalises them.
    """
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and is_subset(value, live[key], key) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, v, parent) for d, v in zip(desired, live, strict=True))
        )
    if desired == live:
        return True
    if parent in _QUANTITY_PARENTS or parent in ("cpu", "memory", "storage"):
        try:
            return parse_quantity(str(desired)) == parse_quantity(str(live))
        except ValueError:
            return False
    return False


def up_to_date(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    """Whether applying ``desired`` (already stamped with its hash) would change nothing."""
    live_hash = live.get("metadata", {}).get("annotations", {}).get(ANNOTATION_DESIRED_HASH)
    want_hash = desired["metadata"]["annotations"][ANNOTATION_DESIRED_HASH]
    return live_hash == want_hash and is_subset(desired, live)
