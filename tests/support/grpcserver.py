"""Plugin server test helpers and fixtures: a throwaway PKI, real servers, real mTLS clients.

Imported by tests/grpc/conftest.py (which registers the fixtures) and by the tests.
"""

from __future__ import annotations

from cnpg_wal_replica.transport import grpc_env

grpc_env.prepare()  # in-process servers too refuse TLS 1.2 when grpc is not yet imported

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from contextlib import asynccontextmanager, contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import grpc  # noqa: E402
import pytest  # noqa: E402

from cnpg_wal_replica.plugin.server import PluginServer  # noqa: E402
from cnpg_wal_replica.plugin.settings import ServerSettings  # noqa: E402
from cnpg_wal_replica.transport.tls import ReloadingCertificates, TLSFiles  # noqa: E402
from support.plugin_doubles import RecordingCore  # noqa: E402
from support.plugin_pki import CA, SERVICE_NAME, Pem, self_signed_client  # noqa: E402

HERE = Path(__file__).resolve().parents[1] / "grpc"
FAST_RECONNECT = (
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 100),
)


@dataclass(frozen=True)
class Pki:
    ca: CA
    server: Pem
    client: Pem
    """The operator's self-signed client certificate (CA:FALSE), trusted via --client-cert."""
    stranger: Pem
    """Another self-signed client certificate: not trusted."""
    foreign_client: Pem
    """A client certificate issued by another CA: not trusted."""

    def write_tls_files(self, directory: Path) -> TLSFiles:
        directory.mkdir(parents=True, exist_ok=True)
        server_cert, server_key = self.server.write(directory, "server")
        trusted = directory / "client-ca.crt"
        trusted.write_bytes(self.client.cert)
        return TLSFiles(server_cert=server_cert, server_key=server_key, client_cert=trusted)


@pytest.fixture(scope="session")
def pki() -> Pki:
    ca = CA.create("test plugin CA")
    other_ca = CA.create("some other CA")
    return Pki(
        ca=ca,
        server=ca.issue("cnpg-wal-replica", dns=SERVICE_NAME, client=False),
        client=self_signed_client("cnpg-operator-client"),
        stranger=self_signed_client("cnpg-operator-client"),
        foreign_client=other_ca.issue("cnpg-operator-client", dns=None, client=True),
    )


def secure_channel(
    port: int, *, root: bytes, client: Pem | None, fresh: bool = False
) -> grpc.aio.Channel:
    """A real mTLS channel to 127.0.0.1:port checking the server as SERVICE_NAME."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=client.key if client else None,
        certificate_chain=client.cert if client else None,
    )
    options: list[tuple[str, Any]] = [("grpc.ssl_target_name_override", SERVICE_NAME)]
    options += FAST_RECONNECT
    if fresh:  # never share a connection with another channel of this process
        options.append(("grpc.use_local_subchannel_pool", 1))
    return grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options)


async def kubelet_grpc_probe(port: int, service: str = "") -> bool:
    """What a kubelet `grpc` probe does: a plain-text Health/Check; success only if SERVING.

    Like the kubelet's prober (pkg/probe/grpc), any error (refused, timeout, UNIMPLEMENTED,
    NOT_FOUND) is a failure.
    """
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=1
            )
        except grpc.aio.AioRpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@dataclass
class Running:
    plugin: PluginServer
    core: RecordingCore
    pki: Pki

    @property
    def port(self) -> int:
        return self.plugin.port

    def channel(self, client: Pem | None = None, **kwargs: Any) -> grpc.aio.Channel:
        return secure_channel(
            self.port, root=self.pki.ca.cert_pem, client=client or self.pki.client, **kwargs
        )


@asynccontextmanager
async def running_server(pki: Pki, directory: Path, **settings: Any) -> AsyncIterator[Running]:
    tls = pki.write_tls_files(directory)
    core = RecordingCore()
    plugin = PluginServer.build(
        ServerSettings(tls=tls, address="127.0.0.1:0", **settings),
        core,
        ReloadingCertificates(tls),
    )
    await plugin.start()
    await plugin.core_ready()
    try:
        yield Running(plugin, core, pki)
    finally:
        await plugin.shutdown(0)


@pytest.fixture(scope="session")
async def server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One shared server (SetStatusInCluster not advertised, the default)."""
    async with running_server(pki, tmp_path_factory.mktemp("tls")) as running:
        yield running


@pytest.fixture
async def channel(server: Running) -> AsyncIterator[grpc.aio.Channel]:
    async with server.channel() as ch:
        yield ch


# --- the `serve` subprocess --------------------------------------------------------------


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    started_at: float
    port: int
    log_lines: list[dict[str, Any]]


WITH_DOUBLE = (sys.executable, str(HERE / "serve_with_double.py"))
"""`serve` built by the same factory, with the test-double core (plugin_doubles)."""
INSTALLED = (str(Path(sys.executable).with_name("cnpg-wal-replica")), "serve")
"""The installed entry point with the real core (needs a kubeconfig, see callers)."""


def serve_command(tls: TLSFiles, *extra: str, program: tuple[str, ...] = WITH_DOUBLE) -> list[str]:
    return [
        *program,
        "--server-cert",
        str(tls.server_cert),
        "--server-key",
        str(tls.server_key),
        "--client-cert",
        str(tls.client_cert),
        "--server-address",
        "127.0.0.1:0",
        "--log-format",
        "json",
        *extra,
    ]


def _read_serving_port(process: subprocess.Popen[bytes], lines: list[dict[str, Any]]) -> int:
    assert process.stderr is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        raw = process.stderr.readline()
        if not raw:
            raise AssertionError(f"serve exited early with {process.wait()}: {lines}")
        entry = json.loads(raw)
        lines.append(entry)
        if entry.get("event") == "server.serving":
            return int(entry["port"])
    raise AssertionError(f"serve did not report serving within 10 s: {lines}")


@contextmanager
def serve_process(
    tls: TLSFiles,
    *extra: str,
    env: dict[str, str] | None = None,
    program: tuple[str, ...] = WITH_DOUBLE,
) -> Iterator[ServeProcess]:
    """Start `serve` (test-double core) and wait for its `server.serving` log line."""
    child_env = {k: v for k, v in os.environ.items() if k != "GRPC_SSL_CIPHER_SUITES"}
    child_env.update(env or {})
    started_at = time.monotonic()
    process = subprocess.Popen(
        serve_command(tls, *extra, program=program),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=child_env,
    )
    try:
        lines: list[dict[str, Any]] = []
        port = _read_serving_port(process, lines)
        yield ServeProcess(process, started_at, port, lines)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
