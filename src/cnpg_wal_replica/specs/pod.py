"""The receiver's pod: environment contract, volumes, security (pure).

The environment built here is the whole contract between the plugin and `receive`
(`cnpg_wal_replica.receiver.settings` reads it); a test feeds one into the other.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.metadata import (
    POSTGRES_PORT,
    RECEIVER_ENV_PREFIX,
    RECEIVER_HTTP_PORT,
    REPLICATION_USER,
)
from cnpg_wal_replica.specs.names import (
    CA_MOUNT,
    TLS_MOUNT,
    TMP_MOUNT,
    receiver_name,
    server_secret_name,
)

SECRET_FILE_MODE = 0o440
"""Root-owned, group = fsGroup, read-only: a client key libpq accepts (CNPG-I spec §4)."""


def receiver_env(view: ClusterView, config: Configuration) -> dict[str, str]:
    """The `WAL_RECEIVER_*` settings of `cnpg-wal-replica receive`, by unprefixed name."""
    env = {
        "HOST": config.replication_host,
        "PORT": str(POSTGRES_PORT),
        "USER": REPLICATION_USER,
        "SSLMODE": "verify-full",
        "SSLROOTCERT": f"{CA_MOUNT}/ca.crt",
        "SSLCERT": f"{TLS_MOUNT}/tls.crt",
        "SSLKEY": f"{TLS_MOUNT}/tls.key",
        "SLOT_NAME": config.slot_name,
        "APPLICATION_NAME": config.application_name,
        "WAL_DIRECTORY": config.wal_directory,
        "COMPRESSION": config.compression,
        "VERBOSE": "true" if config.verbose else "false",
        "HTTP_ADDRESS": f"0.0.0.0:{RECEIVER_HTTP_PORT}",
        "LOG_FORMAT": "json",
    }
    if config.retention_max_age_seconds is not None:
        env["RETENTION_MAX_AGE"] = f"{config.retention_max_age_seconds}s"
    if config.retention_max_size_bytes is not None:
        env["RETENTION_MAX_SIZE"] = str(config.retention_max_size_bytes)
    return env


def env_list(env: dict[str, str]) -> list[dict[str, str]]:
    """The container `env` list with the prefix applied, in a stable order."""
    return [{"name": f"{RECEIVER_ENV_PREFIX}{key}", "value": env[key]} for key in sorted(env)]


def secret_volumes(view: ClusterView) -> list[dict[str, Any]]:
    """Only `ca.crt` of the server CA (the Secret also holds the CA key) and the client pair."""
    return [
        {
            "name": "server-ca",
            "secret": {
                "secretName": view.server_ca_secret,
                "defaultMode": SECRET_FILE_MODE,
                "items": [{"key": "ca.crt", "path": "ca.crt"}],
            },
        },
        {
            "name": "replication-tls",
            "secret": {
                "secretName": view.replication_tls_secret,
                "defaultMode": SECRET_FILE_MODE,
                "items": [
                    {"key": "tls.crt", "path": "tls.crt"},
                    {"key": "tls.key", "path": "tls.key"},
                ],
            },
        },
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]


def secret_mounts() -> list[dict[str, Any]]:
    """Mounts of the volumes from `secret_volumes`."""
    return [
        {"name": "server-ca", "mountPath": CA_MOUNT, "readOnly": True},
        {"name": "replication-tls", "mountPath": TLS_MOUNT, "readOnly": True},
        {"name": "tmp", "mountPath": TMP_MOUNT},
    ]


def pod_security(view: ClusterView) -> dict[str, Any]:
    """Pod security context: the Cluster's postgres UID/GID, never root."""
    return {
        "runAsNonRoot": True,
        "runAsUser": view.postgres_uid,
        "runAsGroup": view.postgres_gid,
        "fsGroup": view.postgres_gid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """Container security context of the restricted Pod Security Standard."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(config: Configuration) -> dict[str, Any]:
    """Container resources from the cpu/memory parameters (only those given)."""
    out: dict[str, dict[str, str]] = {}
    for section, cpu, memory in (
        ("requests", config.cpu_request, config.memory_request),
        ("limits", config.cpu_limit, config.memory_limit),
    ):
        values = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
        if values:
            out[section] = values
    return dict(out)


def secrets_fingerprint(view: ClusterView) -> str:
    """Changes when a referenced certificate Secret name changes (pod-template annotation)."""
    names = json.dumps(
        [view.server_ca_secret, view.replication_tls_secret, server_secret_name(view.name)]
    )
    return hashlib.sha256(names.encode()).hexdigest()[:16]


def pod_base(view: ClusterView) -> dict[str, Any]:
    """Pod spec fields shared by the receiver and the slot-dropping Job."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security(view),
        "volumes": secret_volumes(view),
    }


def volume_claim(view: ClusterView) -> dict[str, Any]:
    """The WAL volume, from the receiver PVC."""
    return {"name": "wal", "persistentVolumeClaim": {"claimName": receiver_name(view.name)}}
