"""Server lifecycle: health, concurrency, graceful SIGTERM, start-up time, bad start-up."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from support.documented import undocumented
from support.grpcserver import (
    INSTALLED,
    WITH_DOUBLE,
    Pki,
    Running,
    running_server,
    secure_channel,
    serve_process,
)
from support.plugin_doubles import RecordingCore, cluster_json

from cnpg_wal_replica._pb import (
    identity_pb2,
    identity_pb2_grpc,
    reconciler_pb2,
    reconciler_pb2_grpc,
)
from cnpg_wal_replica.plugin.server import SERVICE_NAMES, run
from cnpg_wal_replica.plugin.settings import ServerSettings
from cnpg_wal_replica.transport.tls import ReloadingCertificates

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SLOW = 1.0


def _post(delay: float) -> reconciler_pb2.ReconcilerHooksRequest:
    cluster = cluster_json(**{"test/delay": str(delay)})
    return reconciler_pb2.ReconcilerHooksRequest(
        cluster_definition=cluster, resource_definition=cluster
    )


async def test_health_reports_every_service(server: Running) -> None:
    async with server.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", *SERVICE_NAMES):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == SERVING, name
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_turns_not_serving_on_shutdown(pki: Pki, tmp_path: Path) -> None:
    async with running_server(pki, tmp_path) as running, running.channel() as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=SERVICE_NAMES[2])
        )
        first = await watch.read()
        assert first.status == SERVING
        shutdown = asyncio.create_task(running.plugin.shutdown(0.3))
        second = await asyncio.wait_for(watch.read(), timeout=5)
        assert second.status == NOT_SERVING
        await shutdown


async def test_ten_slow_calls_run_concurrently(server: Running) -> None:
    async with server.channel() as channel:
        stub = reconciler_pb2_grpc.ReconcilerHooksStub(channel)
        await stub.Post(_post(0))  # warm the connection
        started = time.monotonic()
        results = await asyncio.gather(*(stub.Post(_post(SLOW)) for _ in range(10)))
        elapsed = time.monotonic() - started
    assert all(
        r.behavior == reconciler_pb2.ReconcilerHooksResult.BEHAVIOR_CONTINUE for r in results
    )
    assert server.core.max_in_flight >= 10
    assert elapsed < SLOW * 1.8, f"10 calls of {SLOW}s took {elapsed:.2f}s"


UNREACHABLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: none, user: {token: unused}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: default}}]
current-context: none
"""


async def _spawn_to_first_probe(pki: Pki, tmp_path: Path, program: tuple[str, ...]) -> float:
    tls = pki.write_tls_files(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE_KUBECONFIG)
    with serve_process(tls, env={"KUBECONFIG": str(kubeconfig)}, program=program) as served:
        async with secure_channel(served.port, root=pki.ca.cert_pem, client=pki.client) as channel:
            probe = await identity_pb2_grpc.IdentityStub(channel).Probe(
                identity_pb2.ProbeRequest(), wait_for_ready=True, timeout=10
            )
        elapsed = time.monotonic() - served.started_at
    assert probe.ready
    return elapsed


@pytest.mark.parametrize("program", ["installed", "with-double"])
async def test_serve_answers_probe_within_two_seconds(
    pki: Pki, tmp_path: Path, program: str
) -> None:
    """Measured from process spawn to the first successful Probe over real mTLS.

    "installed" is the real `cnpg-wal-replica serve` with the real core (all its imports,
    lightkube client, janitor task). Probe needs no API server, so its kubeconfig points at
    a closed port: the janitor logs failed sweeps, which does not matter here.
    The machine is shared with other builds, so the best of up to three starts counts
    (as ``timeit`` does): the minimum is what the code costs, the rest is contention.
    """
    chosen = INSTALLED if program == "installed" else WITH_DOUBLE
    timings: list[float] = []
    for attempt in range(3):
        timings.append(await _spawn_to_first_probe(pki, tmp_path / str(attempt), chosen))
        if timings[-1] < 2.0:
            break
    print(
        f"\n{program}: spawn to first successful mTLS Probe: "
        + ", ".join(f"{t:.3f} s" for t in timings)
    )
    assert min(timings) < 2.0


async def test_sigterm_drains_in_flight_call_and_exits_zero(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path)
    with serve_process(tls, "--grace-period", "10") as served:
        async with secure_channel(served.port, root=pki.ca.cert_pem, client=pki.client) as channel:
            stub = reconciler_pb2_grpc.ReconcilerHooksStub(channel)
            await stub.Post(_post(0))
            in_flight = asyncio.ensure_future(stub.Post(_post(2.0)))
            await asyncio.sleep(0.5)
            served.process.send_signal(signal.SIGTERM)
            result = await asyncio.wait_for(in_flight, timeout=10)
            assert result.behavior == reconciler_pb2.ReconcilerHooksResult.BEHAVIOR_CONTINUE
            with pytest.raises(grpc.aio.AioRpcError):  # new calls are refused while draining
                await identity_pb2_grpc.IdentityStub(channel).Probe(
                    identity_pb2.ProbeRequest(), timeout=2
                )
        code = await asyncio.to_thread(served.process.wait, 10)
        assert served.process.stderr is not None
        rest = served.process.stderr.read().decode()
    assert code == 0, rest
    assert '"server.draining"' in rest
    assert '"server.stopped"' in rest
    assert "PRIVATE KEY" not in rest
    assert pki.client.key.decode().splitlines()[1] not in rest


@pytest.mark.parametrize("missing", ["--server-cert", "--server-key", "--client-cert"])
def test_serve_refuses_to_start_without_a_tls_file(pki: Pki, tmp_path: Path, missing: str) -> None:
    """The installed `cnpg-wal-replica serve` (real core, never reached) names the file."""
    tls = pki.write_tls_files(tmp_path)
    paths = {
        "--server-cert": tls.server_cert,
        "--server-key": tls.server_key,
        "--client-cert": tls.client_cert,
    }
    paths[missing].unlink()
    argv = [sys.executable, "-m", "cnpg_wal_replica", "serve", "--log-format", "json"]
    for flag, path in paths.items():
        argv += [flag, str(path)]
    done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    stderr = done.stderr.decode()
    assert done.returncode != 0
    assert missing in stderr
    assert str(paths[missing]) in stderr
    assert "PRIVATE KEY" not in stderr


async def test_serves_identity_before_the_core_is_open(pki: Pki, tmp_path: Path) -> None:
    """`run` listens before the core is open: Probe works, Post waits for the core."""
    tls = pki.write_tls_files(tmp_path)
    release = asyncio.Event()
    port_holder: list[int] = []

    @asynccontextmanager
    async def slow_core(settings: object) -> AsyncIterator[RecordingCore]:
        await release.wait()  # e.g. a slow API server at start-up
        yield RecordingCore()

    with socket.socket() as probe_socket:  # a free port for the server
        probe_socket.bind(("127.0.0.1", 0))
        port_holder.append(probe_socket.getsockname()[1])
    settings = ServerSettings(tls=tls, address=f"127.0.0.1:{port_holder[0]}")
    stop = asyncio.Event()
    server = asyncio.create_task(run(settings, ReloadingCertificates(tls), slow_core, stop=stop))
    try:
        async with secure_channel(
            port_holder[0], root=pki.ca.cert_pem, client=pki.client
        ) as channel:
            probe = await identity_pb2_grpc.IdentityStub(channel).Probe(
                identity_pb2.ProbeRequest(), wait_for_ready=True, timeout=5
            )
            assert probe.ready
            health = health_pb2_grpc.HealthStub(channel)
            identity = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[0]))
            hooks = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[2]))
            assert (identity.status, hooks.status) == (SERVING, NOT_SERVING)

            post = asyncio.ensure_future(
                reconciler_pb2_grpc.ReconcilerHooksStub(channel).Post(_post(0), timeout=10)
            )
            await asyncio.sleep(0.3)
            assert not post.done()  # waiting for the core, not failing
            release.set()
            result = await post
            assert result.behavior == reconciler_pb2.ReconcilerHooksResult.BEHAVIOR_CONTINUE
            hooks = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAMES[2]))
            assert hooks.status == SERVING
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(server, timeout=10)


@pytest.mark.parametrize(
    ("flag", "refusal"),
    [
        ("--server-address", ": address in use or invalid"),
        ("--health-address", " for the health port: address in use or invalid"),
        ("--metrics-address", " for /metrics: address in use or invalid"),
    ],
)
def test_serve_on_a_port_in_use_is_one_plain_error(
    pki: Pki, tmp_path: Path, flag: str, refusal: str
) -> None:
    """The message docs/troubleshooting.md lists, exit status 1, no traceback."""
    tls = pki.write_tls_files(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        argv = [*WITH_DOUBLE, "--log-format", "json", "--server-address", "127.0.0.1:0"]
        argv += [flag, address]  # the later --server-address wins
        argv += ["--server-cert", str(tls.server_cert), "--server-key", str(tls.server_key)]
        argv += ["--client-cert", str(tls.client_cert)]
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False, text=True)
    assert done.returncode == 1, done.stderr
    assert f"Error: cannot listen on {address!r}{refusal}" in done.stderr
    assert "Traceback" not in done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert not undocumented([error])
