"""Names of the objects the plugin creates for a Cluster. Contracts: never rename."""

from __future__ import annotations

from cnpg_wal_replica.metadata import RECEIVER_SUFFIX


def receiver_name(cluster_name: str) -> str:
    """The Deployment and PVC name: ``<cluster>-wal-receiver``."""
    return f"{cluster_name}{RECEIVER_SUFFIX}"


def drop_slot_job_name(cluster_name: str) -> str:
    """The Job that drops the receiver's slot after the plugin was removed."""
    return f"{cluster_name}{RECEIVER_SUFFIX}-drop-slot"


CA_MOUNT = "/etc/wal-receiver/ca"
TLS_MOUNT = "/etc/wal-receiver/tls"
TMP_MOUNT = "/tmp"  # noqa: S108 - an emptyDir in a read-only-root pod, not a shared /tmp
