"""A reading Cluster's side: its client Certificate and the restore sidecar (pure).

The sidecar (`cnpg-wal-replica sidecar`) runs in the reading Cluster's instance and
recovery-job pods as a native sidecar (an init container that keeps running). The
instance manager finds its socket in `/plugins` and calls `WAL/Restore` for every
`restore_command`; the sidecar fetches the file from the origin's receiver over mutual TLS.
It gets only what it needs: the PostgreSQL data volumes (it writes the restored file where
PostgreSQL asks), its own client certificate, a spool and the plugins directory. No
environment of the PostgreSQL container, no ServiceAccount token, none of CNPG's Secrets.
"""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica import metadata as md
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.reading import (
    PLUGIN_SOCKET_DIRECTORY,
    READER_TLS_MOUNT,
    SERVER_TLS_FILES,
    SOCKET_NAME,
    WAL_PORT,
    reader_uri,
    receiver_service_host,
)
from cnpg_wal_replica.source import WalSource
from cnpg_wal_replica.specs.labels import object_labels
from cnpg_wal_replica.specs.names import (
    reader_certificate_name,
    reader_secret_name,
    receiver_name,
)
from cnpg_wal_replica.specs.ownership import owner_reference
from cnpg_wal_replica.specs.pod import SECRET_FILE_MODE, container_security
from cnpg_wal_replica.specs.walserver import certificate

READER_COMPONENT = "wal-reader"
SIDECAR_NAME = "cnpg-wal-replica"
"""The injected container's name; injection replaces a container of this name."""
SIDECAR_COMMAND = ["cnpg-wal-replica"]
SIDECAR_ARGS = ["sidecar"]
PLUGINS_VOLUME = "plugins"
"""The volume CNPG's own plugins share (cnpg-i-machinery's name): created if missing."""
READER_TLS_VOLUME = "wal-reader-tls"
SPOOL_VOLUME = "wal-replica-spool"
SPOOL_MOUNT = "/var/lib/wal-replica/spool"
SPOOL_SIZE_LIMIT = "256Mi"
"""Room for the prefetched segments: 4 of 16 MiB by default (the sidecar never spools more
than its prefetch, and never a partial segment)."""
DATA_PREFIX = "/var/lib/postgresql"
"""Mounts of the PostgreSQL container under here (PGDATA, the WAL volume, tablespaces)
are shared with the sidecar: restored files are written where PostgreSQL asks."""


SOCKET_PROBE: dict[str, Any] = {
    "exec": {"command": ["test", "-S", f"{PLUGIN_SOCKET_DIRECTORY}/{SOCKET_NAME}"]},
    "periodSeconds": 1,
    "timeoutSeconds": 5,
    "failureThreshold": 60,
}
"""The PostgreSQL container starts only once the socket exists: a recovery whose first
`restore_command` found no plugin would take "no such file" for the end of the WAL."""


def reader_labels(view: ClusterView) -> dict[str, str]:
    """Labels of a reading Cluster's objects."""
    return object_labels(view.name, READER_COMPONENT)


def build_reader_certificate(view: ClusterView) -> dict[str, Any]:
    """The client certificate whose URI SAN names the reading Cluster to every receiver.

    Owned (not controlled) by the reading Cluster: it goes when the Cluster goes.
    """
    built = certificate(
        name=reader_certificate_name(view.name),
        namespace=view.namespace,
        labels=reader_labels(view),
        secret=reader_secret_name(view.name),
        uris=[reader_uri(view.namespace, view.name)],
        usages=["client auth"],
    )
    if view.uid:
        built["metadata"]["ownerReferences"] = [owner_reference(view, controller=False)]
    return built


def server_address(source: WalSource) -> str:
    """``host:port`` of the origin receiver's WAL server."""
    host = receiver_service_host(receiver_name(source.cluster), source.namespace)
    return f"{host}:{WAL_PORT}"


def sidecar_env(source: WalSource) -> list[dict[str, str]]:
    """The `WAL_READER_*` settings of `cnpg-wal-replica sidecar`."""
    env = {
        "SERVER": server_address(source),
        "TLS_DIRECTORY": READER_TLS_MOUNT,
        "SOCKET_DIRECTORY": PLUGIN_SOCKET_DIRECTORY,
        "SPOOL_DIRECTORY": SPOOL_MOUNT,
        "LOG_FORMAT": "json",
    }
    return [{"name": f"{md.READER_ENV_PREFIX}{key}", "value": env[key]} for key in sorted(env)]


def data_mounts(main: dict[str, Any]) -> list[dict[str, Any]]:
    """The PostgreSQL container's data mounts, for the sidecar."""
    return [
        dict(mount)
        for mount in main.get("volumeMounts") or []
        if str(mount.get("mountPath", "")).startswith(DATA_PREFIX + "/")
        or mount.get("mountPath") == DATA_PREFIX
    ]


def sidecar_container(
    source: WalSource, image: str, main: dict[str, Any], *, plugins_volume: str = PLUGINS_VOLUME
) -> dict[str, Any]:
    """The restore sidecar, as a native sidecar (`restartPolicy: Always`)."""
    return {
        "name": SIDECAR_NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": SIDECAR_COMMAND,
        "args": SIDECAR_ARGS,
        "restartPolicy": "Always",
        "env": sidecar_env(source),
        "startupProbe": SOCKET_PROBE,
        "securityContext": container_security(),
        "volumeMounts": [
            *data_mounts(main),
            {"name": plugins_volume, "mountPath": PLUGIN_SOCKET_DIRECTORY},
            {"name": READER_TLS_VOLUME, "mountPath": READER_TLS_MOUNT, "readOnly": True},
            {"name": SPOOL_VOLUME, "mountPath": SPOOL_MOUNT},
        ],
    }


def sidecar_volumes(view: ClusterView) -> list[dict[str, Any]]:
    """The volumes the sidecar adds to the pod (the plugins volume only if missing)."""
    return [
        {
            "name": READER_TLS_VOLUME,
            "secret": {
                "secretName": reader_secret_name(view.name),
                "defaultMode": SECRET_FILE_MODE,
                "items": [{"key": key, "path": key} for key in SERVER_TLS_FILES],
            },
        },
        {"name": SPOOL_VOLUME, "emptyDir": {"sizeLimit": SPOOL_SIZE_LIMIT}},
    ]
