"""Pure checks of a configuration against the Cluster it runs for.

`synchronous_advice` tells users exactly what to add to `spec.postgresql.synchronous` (the
plugin never edits the user's Cluster; CNPG-I spec §5.4). The checks against the live
volume are the PVC policy's, in `specs/pvc_policy.py`.
"""

from __future__ import annotations

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.parameters import BY_NAME


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
