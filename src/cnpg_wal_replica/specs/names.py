"""Names of the objects the plugin creates for a Cluster. Contracts: never rename.

Every name here is at most 63 characters (`MAX_NAME`): a DNS-1123 label, which every object
name, label value and PostgreSQL name (NAMEDATALEN - 1 bytes) admits. The Job controller
copies a Job's name into its pods' ``job-name`` labels, so a Job name must fit a label too.

CloudNativePG admits Cluster names of up to 50 characters (`cluster.CNPG_MAX_NAME`), so
``<cluster>-wal-receiver`` (at most 63) is never shortened. A longer name (the drop-slot
Job's, for Clusters of 41 or more characters) is shortened by `fit`: the Cluster part is
cut and followed by ``-`` and the first 8 hex digits of the SHA-256 of the unshortened name,
then the suffix, e.g. ``<first 31 characters>-1b2c3d4e-wal-receiver-drop-slot``. Names that fit
never change.
"""

from __future__ import annotations

import hashlib

from cnpg_wal_replica.metadata import RECEIVER_SUFFIX

MAX_NAME = 63
"""A DNS-1123 label, a label value and a PostgreSQL identifier all fit in 63."""
HASH_CHARS = 8
DROP_SLOT_SUFFIX = "-drop-slot"


def fit(base: str, suffix: str, limit: int = MAX_NAME) -> str:
    """``base + suffix`` when it fits in ``limit``, else cut ``base`` and add a hash.

    Deterministic; distinct inputs keep distinct results (by the hash of the whole name).
    """
    whole = f"{base}{suffix}"
    if len(whole) <= limit:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:HASH_CHARS]
    head = base[: max(limit - len(suffix) - HASH_CHARS - 1, 0)].rstrip("-.")
    return f"{head}-{digest}{suffix}" if head else f"{digest}{suffix}"


def receiver_name(cluster_name: str) -> str:
    """The Deployment and PVC name: ``<cluster>-wal-receiver``."""
    return fit(cluster_name, RECEIVER_SUFFIX)


def drop_slot_job_name(cluster_name: str) -> str:
    """The Job that drops the receiver's slot: ``<cluster>-wal-receiver-drop-slot``, fitted."""
    return fit(cluster_name, f"{RECEIVER_SUFFIX}{DROP_SLOT_SUFFIX}")


def drop_slot_application_name(application_name: str) -> str:
    """The drop-slot Job's `application_name`: the receiver's plus ``-drop-slot``, fitted."""
    return fit(application_name, DROP_SLOT_SUFFIX)


CA_MOUNT = "/etc/wal-receiver/ca"
TLS_MOUNT = "/etc/wal-receiver/tls"
TMP_MOUNT = "/tmp"  # noqa: S108 - an emptyDir in a read-only-root pod, not a shared /tmp
