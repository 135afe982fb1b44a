"""The receiver's PersistentVolumeClaim (pure)."""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.specs.labels import object_labels
from cnpg_wal_replica.specs.names import receiver_name


def build_pvc(view: ClusterView, config: Configuration) -> dict[str, Any]:
    """A ReadWriteOnce PVC sized by walPVCSize, owned by nobody: it outlives its Cluster."""
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "volumeMode": "Filesystem",
        "resources": {"requests": {"storage": config.wal_pvc_size}},
    }
    if config.wal_storage_class:
        spec["storageClassName"] = config.wal_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": receiver_name(view.name),
            "namespace": view.namespace,
            "labels": object_labels(view.name),
        },
        "spec": spec,
    }
