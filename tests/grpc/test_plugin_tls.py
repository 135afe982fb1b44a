"""Mutual TLS: who gets in, which TLS versions, and certificate rotation without restart."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

import grpc
import pytest
from support.grpcserver import Pki, Running, running_server, secure_channel, serve_process
from support.plugin_pki import CA, SERVICE_NAME, Pem, self_signed_client

from cnpg_wal_replica._pb import identity_pb2, identity_pb2_grpc
from cnpg_wal_replica.transport.tls import ReloadingCertificates, TLSFiles, TLSFilesError


async def _probe(channel: grpc.aio.Channel) -> bool:
    result = await identity_pb2_grpc.IdentityStub(channel).Probe(
        identity_pb2.ProbeRequest(), timeout=5
    )
    return result.ready


async def test_trusted_client_is_served(server: Running) -> None:
    async with server.channel() as channel:
        assert await _probe(channel)


@pytest.mark.parametrize("who", ["no-certificate", "stranger", "other-ca"])
async def test_untrusted_clients_are_refused(server: Running, who: str) -> None:
    client = {
        "no-certificate": None,
        "stranger": server.pki.stranger,
        "other-ca": server.pki.foreign_client,
    }[who]
    async with secure_channel(
        server.port, root=server.pki.ca.cert_pem, client=client, fresh=True
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _probe(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_client_certificate_from_a_ca_is_trusted_as_itself_alone(
    pki: Pki, tmp_path: Path
) -> None:
    """The chart's `certManager.issuerRef`: the operator's certificate comes from a CA, and
    the plugin's --client-cert is still that certificate (the client Secret's tls.crt): it
    is served, while another certificate the same CA signs is refused."""
    operator = pki.ca.issue("cnpg-operator-client", dns=None, client=True)
    sibling = pki.ca.issue("cnpg-operator-client", dns=None, client=True)
    issued = Pki(pki.ca, pki.server, operator, pki.stranger, pki.foreign_client)
    async with running_server(issued, tmp_path) as server:
        async with server.channel() as channel:
            assert await _probe(channel)
        for outsider in (sibling, pki.foreign_client, pki.stranger):
            async with server.channel(outsider, fresh=True) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await _probe(channel)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def _handshake(port: int, pki: Pki, tmp: Path, maximum: ssl.TLSVersion) -> str:
    """A stdlib TLS client with the trusted certificate; returns the negotiated version."""
    ca, cert, key = tmp / "ca.pem", tmp / "c.crt", tmp / "c.key"
    ca.write_bytes(pki.ca.cert_pem)
    cert.write_bytes(pki.client.cert)
    key.write_bytes(pki.client.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.maximum_version = maximum
    context.load_verify_locations(ca)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=SERVICE_NAME) as tls,
    ):
        tls.write(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # a client cert refusal surfaces here
        tls.read(9)
        return str(tls.version())


def test_serve_speaks_tls13_and_refuses_tls12(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path / "tls")
    with serve_process(tls) as served:
        assert _handshake(served.port, pki, tmp_path, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _handshake(served.port, pki, tmp_path, ssl.TLSVersion.TLSv1_2)


def test_grpcio_alone_would_accept_tls12(pki: Pki, tmp_path: Path) -> None:
    """Why transport/grpc_env.py exists: with a user-chosen TLS 1.2 cipher list, grpcio
    negotiates TLS 1.2 (the Python API has no minimum-version setting), and serve warns."""
    tls = pki.write_tls_files(tmp_path / "tls")
    env = {"GRPC_SSL_CIPHER_SUITES": "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"}
    with serve_process(tls, env=env) as served:
        assert _handshake(served.port, pki, tmp_path, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        assert any(line["event"] == "server.tls12_allowed" for line in served.log_lines)


async def test_rotated_certificates_are_used_without_restart(pki: Pki, tmp_path: Path) -> None:
    new_ca = CA.create("rotated CA")
    new_server = new_ca.issue("cnpg-wal-replica", dns=SERVICE_NAME, client=False)
    new_client = self_signed_client("cnpg-operator-client")
    tls_dir = tmp_path / "tls"
    async with running_server(pki, tls_dir) as running:
        async with running.channel(fresh=True) as before:
            assert await _probe(before)
        _rotate(running_tls(tls_dir), new_server, new_client)

        async with secure_channel(
            running.port, root=new_ca.cert_pem, client=new_client, fresh=True
        ) as after:
            assert await _probe(after)
        async with running.channel(fresh=True) as old_credentials:
            with pytest.raises(grpc.aio.AioRpcError):
                await _probe(old_credentials)


def running_tls(directory: Path) -> TLSFiles:
    return TLSFiles(directory / "server.crt", directory / "server.key", directory / "client-ca.crt")


def _rotate(tls: TLSFiles, server: Pem, client: Pem) -> None:
    """Replace the files atomically, as the kubelet does when a Secret changes."""
    for path, data in (
        (tls.server_cert, server.cert),
        (tls.server_key, server.key),
        (tls.client_cert, client.cert),
    ):
        staged = path.with_suffix(".new")
        staged.write_bytes(data)
        os.replace(staged, path)


def test_half_written_rotation_keeps_the_current_certificates(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path)
    certificates = ReloadingCertificates(tls)
    current = certificates.bundle
    tls.server_key.write_bytes(b"")  # mid-rotation: empty file
    assert certificates.fetch() is None
    assert certificates.bundle == current
    tls.server_key.write_bytes(pki.server.key)
    assert certificates.fetch() is None  # same content as before: nothing to reload


@pytest.mark.parametrize("missing", ["server_cert", "server_key", "client_cert"])
def test_missing_file_is_named(pki: Pki, tmp_path: Path, missing: str) -> None:
    tls = pki.write_tls_files(tmp_path)
    getattr(tls, missing).unlink()
    with pytest.raises(TLSFilesError) as caught:
        ReloadingCertificates(tls)
    flag = "--" + missing.replace("_", "-")
    assert flag in str(caught.value)
    assert str(getattr(tls, missing)) in str(caught.value)
