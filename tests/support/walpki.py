"""Certificates of the WAL archive protocol, shaped like those the plugin has cert-manager
issue: a receiver's server certificate and readers' client certificates (URI SAN), one CA.

Each bundle is written as a cert-manager Secret is mounted: ``tls.crt``, ``tls.key``,
``ca.crt`` in one directory.
"""

from __future__ import annotations

from pathlib import Path

from cnpg_wal_replica.reading import reader_uri
from support.plugin_pki import CA, Pem

SERVER_NAME = "localhost"
"""The DNS SAN of the test receiver's certificate (it listens on 127.0.0.1)."""


def write_bundle(directory: Path, pem: Pem, ca: CA) -> Path:
    """``tls.crt``, ``tls.key`` (0600) and ``ca.crt`` in *directory*."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tls.crt").write_bytes(pem.cert)
    (directory / "tls.key").write_bytes(pem.key)
    (directory / "tls.key").chmod(0o600)
    (directory / "ca.crt").write_bytes(ca.cert_pem)
    return directory


class WalPki:
    """One CA, the receiver's server bundle and any number of reader bundles."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = CA.create("cnpg-wal-replica test CA")
        self.server = write_bundle(
            root / "server", self.ca.issue("receiver", dns=SERVER_NAME, client=False), self.ca
        )

    def reader(self, namespace: str, cluster: str) -> Path:
        """A reader's bundle: a client certificate whose URI SAN names ``namespace/cluster``."""
        pem = self.ca.issue(cluster, dns=None, client=True, uri=reader_uri(namespace, cluster))
        return write_bundle(self.root / f"reader-{namespace}-{cluster}", pem, self.ca)

    def unnamed_reader(self) -> Path:
        """A client certificate of the right CA without a reader URI SAN."""
        return write_bundle(
            self.root / "unnamed", self.ca.issue("someone", dns="someone", client=True), self.ca
        )

    def stranger(self, namespace: str, cluster: str) -> Path:
        """A reader certificate from another CA (trusting the right CA for the server)."""
        other = CA.create("another CA")
        pem = other.issue(cluster, dns=None, client=True, uri=reader_uri(namespace, cluster))
        directory = write_bundle(self.root / f"stranger-{namespace}-{cluster}", pem, other)
        (directory / "ca.crt").write_bytes(self.ca.cert_pem)
        return directory
