"""Realistic CNPG Cluster documents for tests and benchmarks.

Shaped like what the operator sends (Go encoding/json of the typed Cluster, managedFields
included): see ../shared/cnpg-i-protocol.md §2.3 and §4.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from cnpg_wal_replica.metadata import PLUGIN_NAME


def cluster_document(
    name: str = "pg",
    namespace: str = "app",
    parameters: dict[str, str] | None = None,
    *,
    uid: str | None = None,
    enabled: bool | None = None,
    managed_fields: int = 0,
) -> dict[str, Any]:
    """A Cluster as CNPG would send it, with this plugin enabled."""
    plugin: dict[str, Any] = {"name": PLUGIN_NAME}
    if parameters is not None:
        plugin["parameters"] = dict(parameters)
    if enabled is not None:
        plugin["enabled"] = enabled
    svc = [f"{name}-{kind}" for kind in ("rw", "r", "ro")]
    alt_names = [
        f"{s}{suffix}"
        for s in svc
        for suffix in ("", f".{namespace}", f".{namespace}.svc", f".{namespace}.svc.cluster.local")
    ]
    doc: dict[str, Any] = {  # Go's encoding/json writes TypeMeta's kind first
        "kind": "Cluster",
        "apiVersion": "postgresql.cnpg.io/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or str(uuid.uuid4()),
            "resourceVersion": "123456",
            "generation": 3,
            "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": {"team": "data"},
            "annotations": {"cnpg.io/skipEmptyWalArchiveCheck": "enabled"},
        },
        "spec": {
            "instances": 3,
            "imageName": "ghcr.io/cloudnative-pg/postgresql:17.2",
            "postgresUID": 26,
            "postgresGID": 26,
            "plugins": [plugin],
            "storage": {"size": "10Gi"},
            "postgresql": {"parameters": {"max_wal_size": "2GB"}},
            "replicationSlots": {
                "highAvailability": {"enabled": True, "slotPrefix": "_cnpg_"},
                "updateInterval": 30,
            },
        },
        "status": {
            "instances": 3,
            "readyInstances": 3,
            "instanceNames": [f"{name}-1", f"{name}-2", f"{name}-3"],
            "currentPrimary": f"{name}-1",
            "targetPrimary": f"{name}-1",
            "image": "ghcr.io/cloudnative-pg/postgresql:17.2",
            "writeService": f"{name}-rw",
            "readService": f"{name}-r",
            "phase": "Cluster in healthy state",
            "timelineID": 1,
            "systemID": "7412345678901234567",
            "certificates": {
                "serverCASecret": f"{name}-ca",
                "serverTLSSecret": f"{name}-server",
                "clientCASecret": f"{name}-ca",
                "replicationTLSSecret": f"{name}-replication",
                "serverAltDNSNames": alt_names,
                "expirations": {f"{name}-ca": "2027-02-01 10:00:00 +0000 UTC"},
            },
        },
    }
    if managed_fields:
        entry = {
            "manager": "manager",
            "operation": "Update",
            "apiVersion": "postgresql.cnpg.io/v1",
            "time": "2026-11-01T10:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {f"f:field{i}": {} for i in range(40)},
        }
        doc["metadata"]["managedFields"] = [copy.deepcopy(entry) for _ in range(managed_fields)]
    return doc


def cluster_json(*args: Any, **kwargs: Any) -> bytes:
    """`cluster_document` encoded as the operator sends it (compact, like Go)."""
    return json.dumps(cluster_document(*args, **kwargs), separators=(",", ":")).encode()


def reader_document(
    name: str = "rep",
    namespace: str = "dr",
    source: dict[str, Any] | None = None,
    *,
    use: str = "replica",
    entry: str = "origin",
) -> dict[str, Any]:
    """A Cluster that reads WAL from another Cluster's receiver, as a user writes it.

    ``use`` is ``replica`` (spec.replica.source names the entry) or ``recovery``
    (spec.bootstrap.recovery.source does). The plugin is not in its spec.plugins.
    """
    doc = cluster_document(name, namespace)
    spec = doc["spec"]
    del spec["plugins"]
    spec["externalClusters"] = [
        {"name": "other", "connectionParameters": {"host": "elsewhere"}},
        {
            "name": entry,
            "plugin": {
                "name": PLUGIN_NAME,
                "parameters": {"cluster": "pg", "namespace": "prod"} if source is None else source,
            },
        },
    ]
    if use == "replica":
        spec["replica"] = {"enabled": True, "source": entry}
        spec["bootstrap"] = {"pg_basebackup": {"source": "other"}}
    else:
        spec["bootstrap"] = {"recovery": {"source": entry}}
    return doc


def instance_pod(cluster: str = "rep", namespace: str = "dr") -> dict[str, Any]:
    """An instance Pod as CNPG 1.30 builds it (pkg/specs/pods.go), reduced to what matters."""
    mounts = [
        {"name": "pgdata", "mountPath": "/var/lib/postgresql/data"},
        {"name": "scratch-data", "mountPath": "/run"},
        {"name": "scratch-data", "mountPath": "/controller"},
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "app-secret", "mountPath": "/etc/app-secret"},
    ]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{cluster}-1",
            "namespace": namespace,
            "labels": {"cnpg.io/cluster": cluster, "cnpg.io/instanceName": f"{cluster}-1"},
        },
        "spec": {
            "volumes": [
                {"name": "pgdata", "persistentVolumeClaim": {"claimName": f"{cluster}-1"}},
                {"name": "scratch-data", "emptyDir": {}},
                {"name": "shm", "emptyDir": {"medium": "Memory"}},
                {"name": "app-secret", "secret": {"secretName": f"{cluster}-app"}},
            ],
            "initContainers": [
                {
                    "name": "bootstrap-controller",
                    "image": "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0",
                    "command": ["/manager", "bootstrap", "/controller/manager"],
                    "volumeMounts": [{"name": "scratch-data", "mountPath": "/controller"}],
                }
            ],
            "containers": [
                {
                    "name": "postgres",
                    "image": "ghcr.io/cloudnative-pg/postgresql:17.2",
                    "command": ["/controller/manager", "instance", "run"],
                    "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                    "volumeMounts": mounts,
                }
            ],
            "securityContext": {"runAsUser": 26, "runAsGroup": 26, "fsGroup": 26},
        },
    }


def bootstrap_job(role: str, cluster: str = "rep", namespace: str = "dr") -> dict[str, Any]:
    """A bootstrap Job as CNPG 1.30 builds it (pkg/specs/jobs.go): main container = role."""
    pod = instance_pod(cluster, namespace)["spec"]
    pod["containers"][0]["name"] = role
    pod["restartPolicy"] = "Never"
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": f"{cluster}-1-{role}", "namespace": namespace},
        "spec": {
            "template": {
                "metadata": {"labels": {"cnpg.io/jobRole": role, "cnpg.io/cluster": cluster}},
                "spec": pod,
            }
        },
    }
