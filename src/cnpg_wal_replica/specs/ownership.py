"""Owner references to a Cluster, built from the apiVersion/kind the operator sent.

The CNPG API group can be customised, so it is never hard-coded (barman `ownership.go`).
Only a reading Cluster's client Certificate is owned: the receiver's objects belong to no
Cluster, so that they outlive it (`specs.deployment`). Nothing is *controlled* by a
Cluster: CNPG counts controlled Pods, PVCs, Jobs and Services as its own (CNPG-I spec §4).
`blockOwnerDeletion` is not set, so the plugin needs no permission on `clusters/finalizers`.
"""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.cluster import ClusterView


def owner_reference(view: ClusterView, *, controller: bool) -> dict[str, Any]:
    """An ownerReference entry pointing at the Cluster."""
    return {
        "apiVersion": view.api_version,
        "kind": view.kind,
        "name": view.name,
        "uid": view.uid,
        "controller": controller,
    }
