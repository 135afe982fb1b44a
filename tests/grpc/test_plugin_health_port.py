"""The plain-text health port that the plugin server's kubelet probes ask (deploy/).

Readiness is the overall health status: it fails while the CNPG-I services are not serving
(the core not open yet, the server draining) and passes once they are. Liveness is
Identity's status. The port answers nothing but the health service, and the mTLS port is
unchanged. Probes are made as the kubelet makes them (`kubelet_grpc_probe`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from support.grpcserver import (
    Pki,
    kubelet_grpc_probe,
    running_server,
    secure_channel,
    serve_process,
)
from support.plugin_doubles import RecordingCore

from cnpg_wal_replica._pb import identity_pb2, identity_pb2_grpc
from cnpg_wal_replica.plugin.server import SERVICE_NAMES, run
from cnpg_wal_replica.plugin.settings import ServerSettings
from cnpg_wal_replica.transport.tls import ReloadingCertificates

IDENTITY = SERVICE_NAMES[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(check: object, expected: bool, within: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while await check() is not expected:  # type: ignore[operator]
        assert loop.time() < deadline, f"the probe never became {expected}"
        await asyncio.sleep(0.05)


async def test_readiness_fails_until_cnpg_i_is_served_and_again_while_draining(
    pki: Pki, tmp_path: Path
) -> None:
    tls = pki.write_tls_files(tmp_path)
    release = asyncio.Event()

    @asynccontextmanager
    async def slow_core(settings: object) -> AsyncIterator[RecordingCore]:
        await release.wait()  # e.g. a slow API server at start-up
        yield RecordingCore()

    port, health_port = free_port(), free_port()
    settings = ServerSettings(
        tls=tls, address=f"127.0.0.1:{port}", health_address=f"127.0.0.1:{health_port}"
    )
    stop = asyncio.Event()
    server = asyncio.create_task(run(settings, ReloadingCertificates(tls), slow_core, stop=stop))
    try:
        await eventually(lambda: kubelet_grpc_probe(health_port, IDENTITY), True)
        assert await kubelet_grpc_probe(health_port) is False, "ready before the core is open"
        async with secure_channel(port, root=pki.ca.cert_pem, client=pki.client) as channel:
            probe = await identity_pb2_grpc.IdentityStub(channel).Probe(
                identity_pb2.ProbeRequest(), timeout=5
            )
            assert probe.ready, "Identity answers meanwhile (the operator's own probe)"

        release.set()
        await eventually(lambda: kubelet_grpc_probe(health_port), True)
        for name in SERVICE_NAMES:
            assert await kubelet_grpc_probe(health_port, name), name

        stop.set()
        await eventually(lambda: kubelet_grpc_probe(health_port), False)
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(server, timeout=10)
    assert await kubelet_grpc_probe(health_port, IDENTITY) is False, "nothing listens after exit"


async def test_the_health_port_serves_health_only(pki: Pki, tmp_path: Path) -> None:
    health_port = free_port()
    async with running_server(pki, tmp_path, health_address=f"127.0.0.1:{health_port}") as running:
        assert running.plugin.health_port == health_port
        assert await kubelet_grpc_probe(health_port)
        assert not await kubelet_grpc_probe(health_port, "no.such.Service")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await identity_pb2_grpc.IdentityStub(plain).Probe(
                    identity_pb2.ProbeRequest(), timeout=5
                )
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert not await kubelet_grpc_probe(running.port), "the mTLS port speaks no plain text"


async def test_serve_with_the_deployments_flag_becomes_ready(pki: Pki, tmp_path: Path) -> None:
    """`serve --health-address` as deploy/deployment.yaml runs it (test-double core)."""
    health_port = free_port()
    tls = pki.write_tls_files(tmp_path)
    with serve_process(tls, "--health-address", f"127.0.0.1:{health_port}") as served:
        (serving,) = [e for e in served.log_lines if e["event"] == "server.serving"]
        assert serving["health_port"] == health_port
        await eventually(lambda: kubelet_grpc_probe(health_port), True)
        assert await kubelet_grpc_probe(health_port, IDENTITY)
