"""Mutual TLS for our gRPC servers, with certificate files reloaded when they change.

Two servers use it: the plugin server (the operator is its client) and the receiver's WAL
server (reading Clusters' sidecars are its clients).

cert-manager rotates the Secret behind the mounted files; the kubelet swaps them in place.
``grpc.dynamic_ssl_server_credentials`` asks ``ReloadingCertificates.fetch`` at every new
connection; it answers ``None`` (keep the current configuration) unless a file's mtime or
size changed *and* its content differs, so handshakes cost three ``stat`` calls. The server
key is read, never logged; only a short SHA-256 fingerprint of the certificate is.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import grpc
import structlog

from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.transport.files import Stamp, TLSFiles, file_stamp

__all__ = [
    "ReloadingCertificates",
    "TLSFiles",
    "TLSFilesError",
    "read_bundle",
    "server_credentials",
]

log = structlog.get_logger(__name__)


class TLSFilesError(WalReplicaError):
    """The TLS files the server was given cannot be used; the message names the file and flag."""


@dataclass(frozen=True)
class PemBundle:
    """The three PEM files' contents at one moment."""

    server_cert: bytes
    server_key: bytes
    client_ca: bytes

    @property
    def fingerprint(self) -> str:
        """A short, non-secret identity of this bundle (the key is hashed, never shown)."""
        digest = hashlib.sha256()
        for part in (self.server_cert, self.server_key, self.client_ca):
            digest.update(hashlib.sha256(part).digest())
        return digest.hexdigest()[:16]

    @property
    def server_cert_sha256(self) -> str:
        return hashlib.sha256(self.server_cert).hexdigest()[:16]


def _named_paths(files: TLSFiles) -> tuple[tuple[str, Path], ...]:
    return (
        ("server_cert", files.server_cert),
        ("server_key", files.server_key),
        ("client_cert", files.client_cert),
    )


def read_bundle(files: TLSFiles) -> PemBundle:
    """Read and sanity-check the three files; raise ``TLSFilesError`` naming a bad one."""
    flags = dict(zip(("server_cert", "server_key", "client_cert"), files.settings, strict=True))
    contents: dict[str, bytes] = {}
    for name, path in _named_paths(files):
        flag = flags[name]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TLSFilesError(
                f"{flag}: file {str(path)!r} does not exist; mount the TLS secret there or "
                "point the setting at the PEM file"
            ) from None
        except OSError as error:
            raise TLSFilesError(f"{flag}: cannot read {str(path)!r}: {error.strerror}") from None
        if b"-----BEGIN " not in data:
            raise TLSFilesError(f"{flag}: {str(path)!r} is not a PEM file (no BEGIN line)")
        contents[name] = data
    if b"PRIVATE KEY-----" not in contents["server_key"]:
        raise TLSFilesError(
            f"{flags['server_key']}: {str(files.server_key)!r} holds no PEM private key"
        )
    for name in ("server_cert", "client_cert"):
        if b"BEGIN CERTIFICATE-----" not in contents[name]:
            raise TLSFilesError(f"{flags[name]}: file holds no PEM certificate")
    return PemBundle(contents["server_cert"], contents["server_key"], contents["client_cert"])


def _configuration(bundle: PemBundle) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(bundle.server_key, bundle.server_cert)], root_certificates=bundle.client_ca
    )


def _stamp(files: TLSFiles) -> Stamp:
    return file_stamp(path for _, path in _named_paths(files))


class ReloadingCertificates:
    """Holds the current PEM bundle and hands gRPC a new one when the files change."""

    def __init__(self, files: TLSFiles) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._stamp = _stamp(files)
        self._bundle = read_bundle(files)

    @property
    def bundle(self) -> PemBundle:
        return self._bundle

    def initial_configuration(self) -> grpc.ServerCertificateConfiguration:
        return _configuration(self._bundle)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """gRPC's per-handshake callback: a new configuration, or ``None`` for no change.

        Never raises: a half-written or unreadable rotation keeps the current certificates
        and is retried at the next connection.
        """
        with self._lock:
            stamp = _stamp(self._files)
            if stamp == self._stamp:
                return None
            try:
                bundle = read_bundle(self._files)
            except TLSFilesError as error:
                log.warning("tls.reload_failed", error=str(error))
                return None
            self._stamp = stamp
            if bundle == self._bundle:
                return None
            previous, self._bundle = self._bundle, bundle
        log.info(
            "tls.reloaded",
            previous=previous.fingerprint,
            current=bundle.fingerprint,
            server_cert_sha256=bundle.server_cert_sha256,
        )
        return _configuration(bundle)


def server_credentials(certificates: ReloadingCertificates) -> grpc.ServerCredentials:
    """Credentials that require and verify a client certificate and follow file rotation."""
    # The stubs say the fetcher must return a configuration; grpc documents None as
    # "unchanged", which is what keeps handshakes cheap.
    fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], certificates.fetch)
    return grpc.dynamic_ssl_server_credentials(
        certificates.initial_configuration(), fetch, require_client_authentication=True
    )
