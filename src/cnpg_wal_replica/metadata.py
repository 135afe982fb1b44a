"""Names that other systems depend on. Each is a contract: renaming one breaks installs."""

from __future__ import annotations

from cnpg_wal_replica import __version__

PLUGIN_NAME = "cnpg-i-wal-replica.documentdb.io"
"""Plugin identity: the Service label `cnpg.io/pluginName`, GetPluginMetadata.name and
`spec.plugins[].name` in Clusters must all equal this (CNPG-I §3.8)."""

VERSION = __version__
DISPLAY_NAME = "WAL Replica Pod Manager"
"""The display name of the Go plugin this one replaces (same plugin name), kept for users."""
DESCRIPTION = (
    "Keeps an independent, continuously streamed copy of a CloudNativePG cluster's WAL "
    "on its own volume, optionally as a synchronous standby"
)
PROJECT_URL = "https://github.com/documentdb/cnpg-wal-replica"
REPOSITORY_URL = "https://github.com/documentdb/cnpg-wal-replica"
LICENSE = "MIT"
"""SPDX identifier: the replaced plugin's license (LICENSE holds the text)."""
LICENSE_URL = f"{REPOSITORY_URL}/blob/main/LICENSE"
MATURITY = "alpha"
VENDOR = "DocumentDB"

IMAGE_REPOSITORY = "ghcr.io/documentdb/cnpg-wal-replica"
RELEASE_IMAGE = f"{IMAGE_REPOSITORY}:{VERSION}"
"""The image of this release; deploy/ runs it and `render` previews with it."""

FIELD_MANAGER = "cnpg-wal-replica"
"""Server-side apply field manager for every object the plugin writes."""

RECEIVER_SUFFIX = "-wal-receiver"
COMPONENT = "wal-receiver"
APP_NAME = "cnpg-wal-replica"

LABEL_CLUSTER = "cnpg.io/cluster"
LABEL_APP_NAME = "app.kubernetes.io/name"
LABEL_APP_INSTANCE = "app.kubernetes.io/instance"
LABEL_APP_COMPONENT = "app.kubernetes.io/component"
LABEL_APP_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_KEPT = "wal-replica.documentdb.io/kept"
"""Set to "true" on a PVC whose Cluster no longer enables the plugin (kept, not deleted)."""

ANNOTATION_SECRETS = "wal-replica.documentdb.io/secrets"
"""Pod-template annotation: changes when a referenced certificate Secret name changes."""

ANNOTATION_DESIRED_HASH = "wal-replica.documentdb.io/desired-hash"
"""Hash of the desired object last applied; a steady-state reconcile compares, never writes."""

RECEIVER_FLUSH = (
    "pg_receivewal always runs with --synchronous: it flushes every write to the volume and "
    "reports the flushed position to the primary at once, whether or not the receiver is a "
    "synchronous standby"
)
"""What the receiver does in every configuration (a measured decision: README.md); the
`receive --help` text and the `synchronous` parameter's rule both quote it."""

SYNCHRONOUS_EVENT = "SynchronousStandbyNotListed"
"""Reason of the Warning Event when `synchronous` and `spec.postgresql.synchronous` disagree."""

SYNCHRONOUS_RULE = (
    "active or inactive (any case): whether you list the receiver in "
    "`spec.postgresql.synchronous`; the plugin compares it with that block, warns "
    f"(Event `{SYNCHRONOUS_EVENT}`) when they disagree and never edits the Cluster. "
    f"It changes nothing in the receiver ({RECEIVER_FLUSH})"
)
"""What the `synchronous` parameter means: docs/parameters.md is generated from it."""

RECEIVER_HTTP_PORT = 8080
"""Port of the receiver's /metrics, /healthz and /readyz."""
POSTGRES_PORT = 5432
"""Port of PostgreSQL behind the Cluster's ``-rw`` Service."""
REPLICATION_USER = "streaming_replica"
"""CNPG's replication role: the receiver and drop-slot connect as it (certificate auth)."""
DEFAULT_SLOT_NAME = "wal_replica"
"""The replication slot of the receiver when the `slotName` parameter is not set."""
RECEIVER_ENV_PREFIX = "WAL_RECEIVER_"
"""Environment of `cnpg-wal-replica receive` and `drop-slot` (specs/pod.py writes it)."""
READER_ENV_PREFIX = "WAL_READER_"
"""Environment of `cnpg-wal-replica sidecar` (specs/reader.py writes it)."""
