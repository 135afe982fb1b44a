"""The receiver Deployment (pure)."""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.metadata import ANNOTATION_SECRETS, RECEIVER_HTTP_PORT
from cnpg_wal_replica.specs import pod, walserver
from cnpg_wal_replica.specs.labels import object_labels, selector_labels
from cnpg_wal_replica.specs.names import receiver_name

CONTAINER_NAME = "receiver"
RECEIVE_COMMAND = ["cnpg-wal-replica"]
RECEIVE_ARGS = ["receive"]


def _probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def build_deployment(view: ClusterView, config: Configuration) -> dict[str, Any]:
    """One receiver replica, `Recreate` so two never hold the slot and volume at once.

    Owned by nobody, like the PVC, the Service and the server Certificate: deleting the
    Cluster keeps the receiver serving the WAL it holds, which is how a Cluster lost with
    its volumes is recovered (docs/restore.md). docs/deleting-volumes.md removes it.
    """
    name = receiver_name(view.name)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": config.image,
        "imagePullPolicy": "IfNotPresent",
        "command": RECEIVE_COMMAND,
        "args": RECEIVE_ARGS,
        "env": pod.env_list(
            {**pod.receiver_env(view, config), **walserver.server_env(view, config)}
        ),
        "ports": [
            {"name": "http", "containerPort": RECEIVER_HTTP_PORT, "protocol": "TCP"},
            walserver.SERVER_PORT,
        ],
        "startupProbe": _probe("/healthz", period=2, failures=30),
        "livenessProbe": _probe("/healthz", period=10, failures=6),
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "securityContext": pod.container_security(),
        "volumeMounts": [
            {"name": "wal", "mountPath": config.wal_directory},
            *pod.secret_mounts(),
            walserver.SERVER_MOUNT,
        ],
    }
    resources = pod.resources(config)
    if resources:
        container["resources"] = resources
    base = pod.pod_base(view)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": view.namespace,
            "labels": object_labels(view.name),
        },
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(view.name)},
            "template": {
                "metadata": {
                    "labels": object_labels(view.name),
                    "annotations": {ANNOTATION_SECRETS: pod.secrets_fingerprint(view)},
                },
                "spec": {
                    **base,
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        pod.volume_claim(view),
                        *base["volumes"],
                        walserver.server_volume(view),
                    ],
                },
            },
        },
    }
