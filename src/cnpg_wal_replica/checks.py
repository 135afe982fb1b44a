"""Pure checks of a configuration against the Cluster and the live objects.

`volume_conflicts` finds changes the API server would refuse (or that would lose data)
before anything is written; `synchronous_advice` tells users exactly what to add to
`spec.postgresql.synchronous` (the plugin never edits the user's Cluster; CNPG-I spec §5.4).
"""

from __future__ import annotations

import copy
from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.errors import ConfigIssue, parameter_path
from cnpg_wal_replica.parameters import BY_NAME
from cnpg_wal_replica.units import parse_quantity


def _path(view: ClusterView, parameter: str) -> tuple[str, ...]:
    return parameter_path(view.plugin.index if view.plugin else 0, parameter)


def volume_conflicts(
    view: ClusterView, config: Configuration, live_pvc: dict[str, Any] | None
) -> tuple[ConfigIssue, ...]:
    """Problems applying the desired PVC over the live one: shrinking, changing its class."""
    if live_pvc is None:
        return ()
    issues = []
    spec = live_pvc.get("spec", {})
    live_size = spec.get("resources", {}).get("requests", {}).get("storage")
    if live_size and parse_quantity(str(live_size)) > config.wal_pvc_bytes:
        issues.append(
            ConfigIssue(
                _path(view, "walPVCSize"),
                config.wal_pvc_size,
                f"is smaller than the existing volume ({live_size}); volumes can only grow, so set "
                f'walPVCSize to at least {live_size} (example: walPVCSize: "{live_size}")',
            )
        )
    live_class = spec.get("storageClassName")
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
    live_size = live_pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
    want = desired_pvc["spec"]["resources"]["requests"]["storage"]
    if not live_size or parse_quantity(str(live_size)) == parse_quantity(str(want)):
        return None
    deferred = copy.deepcopy(desired_pvc)
    deferred["spec"]["resources"]["requests"]["storage"] = live_size
    return deferred


def synchronous_advice(view: ClusterView, config: Configuration) -> str | None:
    """What disagrees between the `synchronous` parameter and `spec.postgresql.synchronous`.

    The parameter states whether the user lists the receiver there; the receiver itself runs
    the same either way (`metadata.RECEIVER_FLUSH`). None when both agree.
    """
    app = config.application_name
    listed = view.synchronous is not None and app.lower() in {
        n.lower()
        for n in (*view.synchronous.standby_names_pre, *view.synchronous.standby_names_post)
    }
    if not config.synchronous:
        if listed:
            return (
                f"{app!r} is listed in spec.postgresql.synchronous, so commits can wait for "
                "the receiver, but the plugin parameter synchronous is inactive; set "
                "synchronous: active (the plugin then checks that block) or remove "
                f"{app!r} from standbyNamesPre/standbyNamesPost"
            )
        return None
    block = (
        f"spec.postgresql.synchronous: {{method: first, number: 1, "
        f'standbyNamesPre: ["{app}"], dataDurability: required}}'
    )
    if view.legacy_sync_replicas:
        return (
            "synchronous is active but the Cluster uses minSyncReplicas/maxSyncReplicas, "
            f"which cannot list the receiver; replace them with {block}"
        )
    if view.synchronous is None:
        return f"synchronous is active but the Cluster has no synchronous block; add {block}"
    if view.synchronous.data_durability == "preferred":
        return (
            "synchronous is active but spec.postgresql.synchronous.dataDurability is "
            "preferred, which cannot list external standbys; use dataDurability: required "
            f"and add {app!r} to standbyNamesPre"
        )
    if not listed:
        return (
            f"synchronous is active but {app!r} is in neither standbyNamesPre nor "
            f"standbyNamesPost of spec.postgresql.synchronous; add it, e.g. "
            f'standbyNamesPre: ["{app}"]'
        )
    return None


def example_for(parameter: str) -> str:
    """The documented example value of a parameter."""
    return BY_NAME[parameter].example
