"""The Job that drops the receiver's replication slot once the plugin is removed (pure).

Built from the live receiver Deployment, because by then the Cluster no longer carries the
plugin's parameters: the Job reuses the receiver's image, connection settings and
certificate volumes, and runs `cnpg-wal-replica drop-slot` instead of `receive`.
"""

from __future__ import annotations

import copy
from typing import Any

from cnpg_wal_replica.specs.names import drop_slot_job_name
from cnpg_wal_replica.specs.walserver import SERVER_TLS_VOLUME

SLOT_SETTINGS = (
    "HOST",
    "PORT",
    "USER",
    "SSLMODE",
    "SSLROOTCERT",
    "SSLCERT",
    "SSLKEY",
    "SLOT_NAME",
    "APPLICATION_NAME",
    "LOG_FORMAT",
)


def build_drop_slot_job(cluster_name: str, deployment: dict[str, Any]) -> dict[str, Any]:
    """A Job that drops the slot named in ``deployment``'s receiver settings, then ends."""
    metadata = deployment["metadata"]
    pod_spec = deployment["spec"]["template"]["spec"]
    container = pod_spec["containers"][0]
    env = [
        e
        for e in container.get("env", [])
        if any(e.get("name", "").endswith(f"_{key}") for key in SLOT_SETTINGS)
    ]
    volumes = [
        v
        for v in pod_spec.get("volumes", [])
        if "persistentVolumeClaim" not in v and v.get("name") != SERVER_TLS_VOLUME
    ]
    mounts = [
        m
        for m in container.get("volumeMounts", [])
        if m.get("name") in {v["name"] for v in volumes}
    ]
    owners = [{**ref, "controller": False} for ref in metadata.get("ownerReferences", [])]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": drop_slot_job_name(cluster_name),
            "namespace": metadata["namespace"],
            "labels": dict(metadata.get("labels", {})),
            "ownerReferences": owners,
        },
        "spec": {
            "backoffLimit": 20,
            "activeDeadlineSeconds": 1800,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": dict(metadata.get("labels", {}))},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": copy.deepcopy(pod_spec.get("securityContext", {})),
                    "volumes": copy.deepcopy(volumes),
                    "containers": [
                        {
                            "name": "drop-slot",
                            "image": container["image"],
                            "imagePullPolicy": container.get("imagePullPolicy", "IfNotPresent"),
                            "command": list(container.get("command", ["cnpg-wal-replica"])),
                            "args": ["drop-slot"],
                            "env": copy.deepcopy(env),
                            "securityContext": copy.deepcopy(container.get("securityContext", {})),
                            "volumeMounts": copy.deepcopy(mounts),
                        }
                    ],
                },
            },
        },
    }
