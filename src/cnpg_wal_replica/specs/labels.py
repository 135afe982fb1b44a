"""The labels every receiver object carries (the recommended app.kubernetes.io set)."""

from __future__ import annotations

from cnpg_wal_replica import metadata as md


def selector_labels(cluster_name: str, component: str = md.COMPONENT) -> dict[str, str]:
    """Labels that select the receiver pod; immutable once the Deployment exists."""
    return {
        md.LABEL_APP_NAME: md.APP_NAME,
        md.LABEL_APP_INSTANCE: cluster_name,
        md.LABEL_APP_COMPONENT: component,
    }


def object_labels(cluster_name: str, component: str = md.COMPONENT) -> dict[str, str]:
    """Labels of every object the plugin makes for a Cluster (``component``: the receiver's,
    or a reading Cluster's). Never CNPG's pod-role labels (its Services select them)."""
    return {
        **selector_labels(cluster_name, component),
        md.LABEL_APP_MANAGED_BY: md.APP_NAME,
        md.LABEL_CLUSTER: cluster_name,
    }
