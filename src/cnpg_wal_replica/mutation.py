"""MutateCluster's answer: an RFC 6902 patch that writes the static defaults into the entry."""

from __future__ import annotations

import json
from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import static_defaults


def defaults_patch(view: ClusterView, cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations that add the missing static defaults to this plugin's entry.

    ``cluster`` is the exact JSON the operator sent: `add` needs the parent to exist.
    """
    if view.plugin is None:
        return []
    base = f"/spec/plugins/{view.plugin.index}/parameters"
    entry = cluster["spec"]["plugins"][view.plugin.index]
    missing = {k: v for k, v in static_defaults(view).items() if k not in view.plugin.parameters}
    if not missing:
        return []
    if not isinstance(entry.get("parameters"), dict):
        return [{"op": "add", "path": base, "value": missing}]
    return [{"op": "add", "path": f"{base}/{_escape(k)}", "value": v} for k, v in missing.items()]


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def to_json_patch(ops: list[dict[str, Any]]) -> bytes:
    """Encode operations as the bytes MutateCluster returns (empty when there are none)."""
    return json.dumps(ops).encode() if ops else b""
