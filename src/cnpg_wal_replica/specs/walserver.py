"""The receiver's WAL server: its Service, its server Certificate, its pod settings (pure).

Readers (the restore sidecar in other Clusters' pods) dial
``<cluster>-wal-receiver.<namespace>.svc:9443`` over TLS 1.3 and present a client
certificate from the same cert-manager ClusterIssuer (`reading.WAL_CA_ISSUER`).
"""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.config import Configuration
from cnpg_wal_replica.reading import (
    SERVER_TLS_FILES,
    SERVER_TLS_MOUNT,
    WAL_CA_ISSUER,
    WAL_PORT,
    WAL_PORT_NAME,
    receiver_service_host,
)
from cnpg_wal_replica.specs.labels import object_labels, selector_labels
from cnpg_wal_replica.specs.names import receiver_name, server_certificate_name, server_secret_name
from cnpg_wal_replica.specs.pod import SECRET_FILE_MODE

SERVER_TLS_VOLUME = "wal-server-tls"
CERTIFICATE_DURATION = "2160h"
CERTIFICATE_RENEW_BEFORE = "360h"


def certificate(
    *, name: str, namespace: str, labels: dict[str, str], secret: str, **names: Any
) -> dict[str, Any]:
    """A cert-manager Certificate from the WAL CA: ECDSA P-256, 90 days, a new key each time."""
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "secretName": secret,
            "secretTemplate": {"labels": labels},
            **names,
            "duration": CERTIFICATE_DURATION,
            "renewBefore": CERTIFICATE_RENEW_BEFORE,
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {
                "name": WAL_CA_ISSUER,
                "kind": "ClusterIssuer",
                "group": "cert-manager.io",
            },
        },
    }


def server_names(view: ClusterView) -> list[str]:
    """The DNS names readers may dial; the sidecar uses the ``.svc`` one."""
    receiver = receiver_name(view.name)
    host = receiver_service_host(receiver, view.namespace)
    return [receiver, f"{receiver}.{view.namespace}", host, f"{host}.cluster.local"]


def build_server_certificate(view: ClusterView) -> dict[str, Any]:
    """The receiver's server certificate."""
    return certificate(
        name=server_certificate_name(view.name),
        namespace=view.namespace,
        labels=object_labels(view.name),
        secret=server_secret_name(view.name),
        dnsNames=server_names(view),
        usages=["server auth"],
    )


def build_service(view: ClusterView) -> dict[str, Any]:
    """``<cluster>-wal-receiver``: the WAL port of the receiver pod, ready or not.

    Not-ready addresses are published on purpose: the receiver is not ready while it cannot
    stream (the primary is gone), which is exactly when readers need what it holds.
    """
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": receiver_name(view.name),
            "namespace": view.namespace,
            "labels": object_labels(view.name),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(view.name),
            "publishNotReadyAddresses": True,
            "ports": [
                {
                    "name": WAL_PORT_NAME,
                    "port": WAL_PORT,
                    "targetPort": WAL_PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "grpc",
                }
            ],
        },
    }


def server_env(view: ClusterView, config: Configuration) -> dict[str, str]:
    """The receiver's `WAL_RECEIVER_*` settings of its WAL server (unprefixed)."""
    env = {"SERVE_TLS_DIRECTORY": SERVER_TLS_MOUNT, "NAMESPACE": view.namespace}
    if config.readers:
        env["READERS"] = config.readers
    return env


def server_volume(view: ClusterView) -> dict[str, Any]:
    """The server certificate, its key and the CA that readers' certificates chain to."""
    return {
        "name": SERVER_TLS_VOLUME,
        "secret": {
            "secretName": server_secret_name(view.name),
            "defaultMode": SECRET_FILE_MODE,
            "items": [{"key": key, "path": key} for key in SERVER_TLS_FILES],
        },
    }


SERVER_MOUNT = {"name": SERVER_TLS_VOLUME, "mountPath": SERVER_TLS_MOUNT, "readOnly": True}
SERVER_PORT = {"name": WAL_PORT_NAME, "containerPort": WAL_PORT, "protocol": "TCP"}
