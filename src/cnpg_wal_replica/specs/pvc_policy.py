"""The receiver volume's policy against the live claim (pure); `pvc.py` builds the claim.

- It never shrinks and never changes StorageClass: `volume_conflicts` refuses both before
  anything is written (the API server would refuse them half-way through a reconcile).
- It grows only once bound: `defer_resize_until_bound` keeps the live size until then.
- It outlives the plugin: when a Cluster drops the plugin the janitor keeps the claim and
  labels it `KEPT`; a later reconcile that adopts it again removes the label (`ADOPTED`).
- It is owned by nobody (`pvc.build_pvc`), so it outlives its Cluster too.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.errors import ConfigIssue, parameter_path
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.units import parse_quantity

KEPT: Final[dict[str, str | None]] = {LABEL_KEPT: "true"}
"""The labels patched onto the claim of a receiver the janitor removed."""
ADOPTED: Final[dict[str, str | None]] = {LABEL_KEPT: None}
"""The label patch of a kept object that is reconciled again."""


def is_kept(live: dict[str, Any] | None) -> bool:
    """Whether the live object carries the kept label (so applying must adopt it)."""
    return bool(live and LABEL_KEPT in (live.get("metadata", {}).get("labels") or {}))


def _path(view: ClusterView, parameter: str) -> tuple[str, ...]:
    return parameter_path(view.plugin.index if view.plugin else 0, parameter)


def _requested(pvc: dict[str, Any]) -> Any:
    return pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")


def volume_conflicts(
    view: ClusterView, config: Configuration, live_pvc: dict[str, Any] | None
) -> tuple[ConfigIssue, ...]:
    """Problems applying the desired PVC over the live one: shrinking, changing its class."""
    if live_pvc is None:
        return ()
    issues = []
    live_size = _requested(live_pvc)
    if live_size and parse_quantity(str(live_size)) > config.wal_pvc_bytes:
        issues.append(
            ConfigIssue(
                _path(view, "walPVCSize"),
                config.wal_pvc_size,
                f"is smaller than the existing volume ({live_size}); volumes can only grow, so set "
                f'walPVCSize to at least {live_size} (example: walPVCSize: "{live_size}")',
            )
        )
    live_class = live_pvc.get("spec", {}).get("storageClassName")
    if config.wal_storage_class and live_class and config.wal_storage_class != live_class:
        issues.append(
            ConfigIssue(
                _path(view, "walStorageClass"),
                config.wal_storage_class,
                f"differs from the existing volume's StorageClass {live_class!r}, which cannot "
                f'change; set walStorageClass: "{live_class}" or remove the parameter',
            )
        )
    return tuple(issues)


def defer_resize_until_bound(
    desired_pvc: dict[str, Any], live_pvc: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The desired PVC with the live size when a resize must wait, else None.

    Kubernetes lets only *bound* claims change size; a claim waiting for its volume (e.g.
    WaitForFirstConsumer) keeps its size until bound, then the next reconcile grows it.
    """
    if live_pvc is None or live_pvc.get("status", {}).get("phase") == "Bound":
        return None
    live_size = _requested(live_pvc)
    want = desired_pvc["spec"]["resources"]["requests"]["storage"]
    if not live_size or parse_quantity(str(live_size)) == parse_quantity(str(want)):
        return None
    deferred = copy.deepcopy(desired_pvc)
    deferred["spec"]["resources"]["requests"]["storage"] = live_size
    return deferred
