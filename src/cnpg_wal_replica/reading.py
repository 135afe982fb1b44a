"""How a reading Cluster reaches an origin's receiver: facts both ends depend on.

The plugin server writes these into the objects it builds (the receiver's Service, port,
Secret mounts and environment; the sidecar it injects into a reading Cluster's pods); the
receiver's WAL server and the sidecar read them back. Each is a contract between two
releases that may run side by side during an upgrade: never change one in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from cnpg_wal_replica.metadata import PLUGIN_NAME
from cnpg_wal_replica.naming import is_dns1123_label

WAL_PORT = 9443
"""The receiver's WAL server: gRPC over TLS 1.3, client certificates required."""
WAL_PORT_NAME = "wal"

SERVER_TLS_MOUNT = "/etc/wal-receiver/wal-server"
"""The receiver's server certificate (cert-manager Secret keys tls.crt, tls.key, ca.crt)."""
READER_TLS_MOUNT = "/etc/wal-reader/tls"
"""The sidecar's client certificate (same keys), in a reading Cluster's pods."""

WAL_CA_ISSUER = "cnpg-wal-replica-wal-ca"
"""The cert-manager ClusterIssuer (deploy/wal-ca.yaml) that signs every receiver's server
certificate and every reader's client certificate: both ends trust its `ca.crt`."""

SERVER_TLS_FILES = ("tls.crt", "tls.key", "ca.crt")
"""Keys of a cert-manager Secret: the certificate, its key, and the CA peers must chain to."""

PLUGIN_SOCKET_DIRECTORY = "/plugins"
"""Where CNPG's instance manager looks for plugin sockets (CNPG ``DefaultPluginSocketDir``)."""
SOCKET_NAME = PLUGIN_NAME
"""The sidecar's unix socket file in `PLUGIN_SOCKET_DIRECTORY`: CNPG names plugins by it."""

READER_URI_SCHEME = "cnpg-wal-replica"
"""Reader identity is the client certificate's URI SAN:
``cnpg-wal-replica://reader/<namespace>/<cluster>``."""


def reader_uri(namespace: str, cluster: str) -> str:
    """The URI SAN of the client certificate a reading Cluster gets."""
    return f"{READER_URI_SCHEME}://reader/{quote(namespace, safe='')}/{quote(cluster, safe='')}"


def parse_reader_uri(uri: str) -> tuple[str, str] | None:
    """``(namespace, cluster)`` of a reader URI SAN, or None when *uri* is not one."""
    prefix = f"{READER_URI_SCHEME}://reader/"
    if not uri.startswith(prefix):
        return None
    parts = uri[len(prefix) :].split("/")
    if len(parts) != 2 or not all(parts):
        return None
    return unquote(parts[0]), unquote(parts[1])


def receiver_service_host(receiver: str, namespace: str) -> str:
    """The DNS name the sidecar dials and the receiver's server certificate carries."""
    return f"{receiver}.{namespace}.svc"


READERS_EXAMPLE = "prod/pg-copy, staging/*"


@dataclass(frozen=True)
class ReaderPattern:
    """Who may read an origin's WAL: one Cluster, or (``cluster`` None) a whole namespace."""

    namespace: str
    cluster: str | None

    def admits(self, namespace: str, cluster: str) -> bool:
        """Whether the reader ``namespace/cluster`` matches."""
        return self.namespace == namespace and self.cluster in (None, cluster)

    def __str__(self) -> str:
        return f"{self.namespace}/{self.cluster or '*'}"


def parse_readers(text: str) -> tuple[ReaderPattern, ...]:
    """Comma-separated ``namespace/cluster`` or ``namespace/*``; ``ValueError`` names the
    bad entry and shows a valid list."""
    patterns = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        namespace, sep, cluster = entry.partition("/")
        valid = (
            sep and is_dns1123_label(namespace) and (cluster == "*" or is_dns1123_label(cluster))
        )
        if not valid:
            raise ValueError(
                f"{entry!r} is not namespace/cluster or namespace/* (lower-case DNS labels), "
                f"e.g. {READERS_EXAMPLE}"
            )
        patterns.append(ReaderPattern(namespace, None if cluster == "*" else cluster))
    return tuple(patterns)


def readers_parameter(text: str) -> str:
    """The `readers` parameter, normalised (``ValueError`` as `parse_readers`)."""
    return ", ".join(str(pattern) for pattern in parse_readers(text))


def reader_allowed(
    namespace: str, cluster: str, own_namespace: str, patterns: tuple[ReaderPattern, ...]
) -> bool:
    """The origin's own namespace always reads; others only when a pattern admits them."""
    return namespace == own_namespace or any(p.admits(namespace, cluster) for p in patterns)
