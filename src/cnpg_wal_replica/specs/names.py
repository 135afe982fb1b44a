"""Names of the objects the plugin creates for a Cluster. Contracts: never rename.

Every name here is at most 63 characters (`naming.MAX_NAME`): Kubernetes requires it of
label values, and the Job controller copies a Job's name into its pods' ``job-name``
labels, so a Job name must fit a label too; PostgreSQL cuts longer names.

CloudNativePG admits Cluster names of up to 50 characters (`cluster.CNPG_MAX_NAME`), so
``<cluster>-wal-receiver`` (at most 63) is never shortened. A longer name (the drop-slot
Job's, for Clusters of 41 or more characters) is shortened by `naming.fit`, e.g.
``<first 31 characters>-1b2c3d4e-wal-receiver-drop-slot``. Names that fit never change.
"""

from __future__ import annotations

from cnpg_wal_replica.metadata import RECEIVER_SUFFIX
from cnpg_wal_replica.naming import fit

DROP_SLOT_SUFFIX = "-drop-slot"
READER_SUFFIX = "-wal-reader"


def receiver_name(cluster_name: str) -> str:
    """The Deployment and PVC name: ``<cluster>-wal-receiver``."""
    return fit(cluster_name, RECEIVER_SUFFIX)


def drop_slot_job_name(cluster_name: str) -> str:
    """The Job that drops the receiver's slot: ``<cluster>-wal-receiver-drop-slot``, fitted."""
    return fit(cluster_name, f"{RECEIVER_SUFFIX}{DROP_SLOT_SUFFIX}")


def drop_slot_application_name(application_name: str) -> str:
    """The drop-slot Job's `application_name`: the receiver's plus ``-drop-slot``, fitted."""
    return fit(application_name, DROP_SLOT_SUFFIX)


def server_certificate_name(cluster_name: str) -> str:
    """The receiver's WAL-server Certificate: ``<cluster>-wal-receiver-server``, fitted."""
    return fit(cluster_name, f"{RECEIVER_SUFFIX}-server")


def server_secret_name(cluster_name: str) -> str:
    """The Secret cert-manager writes for it: ``<cluster>-wal-receiver-server-tls``, fitted."""
    return fit(cluster_name, f"{RECEIVER_SUFFIX}-server-tls")


def reader_certificate_name(cluster_name: str) -> str:
    """A reading Cluster's client Certificate: ``<cluster>-wal-reader``."""
    return fit(cluster_name, READER_SUFFIX)


def reader_secret_name(cluster_name: str) -> str:
    """The Secret cert-manager writes for it: ``<cluster>-wal-reader-tls``, fitted."""
    return fit(cluster_name, f"{READER_SUFFIX}-tls")


CA_MOUNT = "/etc/wal-receiver/ca"
TLS_MOUNT = "/etc/wal-receiver/tls"
TMP_MOUNT = "/tmp"  # noqa: S108 - an emptyDir in a read-only-root pod, not a shared /tmp
