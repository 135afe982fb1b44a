"""The receiver's status as SetStatusInCluster reports it (pure)."""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica import checks
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.errors import ConfigIssue
from cnpg_wal_replica.specs.names import receiver_name


def receiver_status(
    view: ClusterView,
    configuration: Configuration | None,
    issues: tuple[ConfigIssue, ...],
    deployment: dict[str, Any] | None,
    pvc: dict[str, Any] | None,
) -> dict[str, Any]:
    """Objects present, configuration in force and every problem, as one JSON object."""
    problems = [i.describe() for i in issues]
    if configuration is not None:
        advice = checks.synchronous_advice(view, configuration)
        problems += [advice] if advice else []
    return {
        "receiver": receiver_name(view.name),
        "deployment": _deployment_status(deployment),
        "pvc": _pvc_status(pvc),
        "configuration": configuration.as_dict() if configuration else None,
        "problems": problems,
    }


def _deployment_status(obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        return {"present": False}
    status = obj.get("status", {})
    return {"present": True, "readyReplicas": status.get("readyReplicas", 0)}


def _pvc_status(obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        return {"present": False}
    status = obj.get("status", {})
    return {
        "present": True,
        "phase": status.get("phase", ""),
        "capacity": status.get("capacity", {}).get("storage", ""),
    }
