"""What should exist for a Cluster: pure builders of the receiver's Kubernetes objects.

Nothing here does I/O; objects are plain JSON-like dicts, in apply order.
"""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.specs.deployment import build_deployment
from cnpg_wal_replica.specs.pvc import build_pvc
from cnpg_wal_replica.specs.walserver import build_server_certificate, build_service


def desired_objects(view: ClusterView, config: Configuration) -> list[dict[str, Any]]:
    """The receiver's objects for ``view``: the PVC, the Deployment that mounts it, then
    the WAL server's Certificate (whose Secret the pod waits for) and Service."""
    return [
        build_pvc(view, config),
        build_deployment(view, config),
        build_server_certificate(view),
        build_service(view),
    ]
