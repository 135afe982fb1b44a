"""The plugin server against the real API server of the test harness.

Starts etcd + kube-apiserver (tests/support/kubeplane.py) with the CNPG CRDs, creates a
namespace and a Cluster, starts `cnpg-wal-replica serve` as a subprocess (admin kubeconfig,
mutual TLS shaped like cert-manager's), then:

- time from process start to the first successful Probe;
- one Post that creates the receiver objects, then steady state: Post and Pre latency
  (p50/p99) over many calls from concurrent clients, each on its own mTLS connection;
- API requests per steady-state Post, from the API server's `apiserver_request_total`
  (reads) and its audit log (writes by the plugin's user);
- the server's resident memory after the run.

The load generator is Python grpc.aio in this process, on the same cores as the server
and the API server: latencies include its share of the machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_procs
import bench_stats

NAMESPACE = "bench"
CLUSTER = "pg"
MANAGED_FIELDS = 60
RESOURCES = ("deployments", "persistentvolumeclaims", "jobs", "events", "clusters")
GO_PLUGIN_PER_POST = {"reads": 2, "writes": 1}
"""The Go plugin this one replaces: two GETs and one apply on every Post."""


def _create_cluster(plane: Any) -> dict[str, Any]:
    """Create the namespace and the Cluster; the document as the operator would send it."""
    from support.clusters import cluster_document

    document: dict[str, Any] = cluster_document(CLUSTER, NAMESPACE, managed_fields=MANAGED_FIELDS)
    body = json.loads(json.dumps(document))
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"):
        body["metadata"].pop(key, None)
    body.pop("status", None)
    with plane.http() as http:
        response = http.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        if response.status_code not in (201, 409):
            raise RuntimeError(f"creating namespace: {response.text}")
        response = http.post(
            f"/apis/postgresql.cnpg.io/v1/namespaces/{NAMESPACE}/clusters", json=body
        )
        if response.status_code != 201:
            raise RuntimeError(f"creating Cluster: {response.text}")
        created = response.json()
    document["metadata"]["uid"] = created["metadata"]["uid"]
    document["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    return document


def _metrics(plane: Any) -> str:
    with plane.http() as http:
        response = http.get("/metrics")
        response.raise_for_status()
        return str(response.text)


def _write_pki(directory: Path) -> dict[str, Path]:
    from support.plugin_pki import CA, SERVICE_NAME, self_signed_client

    directory.mkdir(parents=True, exist_ok=True)
    ca = CA.create("bench plugin CA")
    server_cert, server_key = ca.issue("cnpg-wal-replica", dns=SERVICE_NAME, client=False).write(
        directory, "server"
    )
    client = self_signed_client("cnpg-operator-client")
    client_cert, client_key = client.write(directory, "client")
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.cert_pem)
    return {
        "server_cert": server_cert,
        "server_key": server_key,
        "client_cert": client_cert,
        "client_key": client_key,
        "ca": ca_path,
    }


class Client:
    """mTLS gRPC clients to the plugin server, one connection each."""

    def __init__(self, port: int, pki: dict[str, Path], count: int) -> None:
        import grpc
        from support.plugin_pki import SERVICE_NAME

        from cnpg_wal_replica._pb import identity_pb2_grpc, reconciler_pb2_grpc

        credentials = grpc.ssl_channel_credentials(
            root_certificates=pki["ca"].read_bytes(),
            private_key=pki["client_key"].read_bytes(),
            certificate_chain=pki["client_cert"].read_bytes(),
        )
        options = [
            ("grpc.ssl_target_name_override", SERVICE_NAME),
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.initial_reconnect_backoff_ms", 20),
            ("grpc.min_reconnect_backoff_ms", 20),
            ("grpc.max_reconnect_backoff_ms", 50),
        ]
        self.channels = [
            grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials, options=options)
            for _ in range(count)
        ]
        self.identity = [identity_pb2_grpc.IdentityStub(c) for c in self.channels]
        self.hooks = [reconciler_pb2_grpc.ReconcilerHooksStub(c) for c in self.channels]

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


async def _first_probe(client: Client, started: float, limit: float = 30) -> float:
    import grpc

    from cnpg_wal_replica._pb import identity_pb2

    deadline = started + limit
    while time.monotonic() < deadline:
        try:
            await client.identity[0].Probe(identity_pb2.ProbeRequest(), timeout=1)
            return time.monotonic() - started
        except grpc.aio.AioRpcError:
            await asyncio.sleep(0.01)
    raise TimeoutError(f"no successful Probe within {limit} s")


async def _load(client: Client, method: str, request: Any, calls_per_client: int) -> list[float]:
    """``calls_per_client`` sequential calls on every connection at once; latencies."""

    async def one(index: int) -> list[float]:
        call = getattr(client.hooks[index], method)
        latencies = []
        for _ in range(calls_per_client):
            started = time.perf_counter()
            await call(request, timeout=10)
            latencies.append(time.perf_counter() - started)
        return latencies

    results = await asyncio.gather(*(one(i) for i in range(len(client.hooks))))
    return [value for chunk in results for value in chunk]


async def _drive(
    plane: Any,
    server_pid: int,
    port: int,
    pki: dict[str, Path],
    started: float,
    document: dict[str, Any],
    clients: int,
    calls: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from cnpg_wal_replica._pb import reconciler_pb2

    payload = json.dumps(document).encode()
    request = reconciler_pb2.ReconcilerHooksRequest(
        cluster_definition=payload, resource_definition=payload
    )
    client = Client(port, pki, clients)
    try:
        start_s = await _first_probe(client, started)
        log(f"  first Probe after {start_s:.2f} s; Cluster JSON {len(payload) / 1024:.1f} KiB")
        offset = plane.audit_offset()
        await client.hooks[0].Post(request, timeout=30)
        created = [e["objectRef"]["resource"] for e in plane.audit_writes(offset)]
        log(f"  first Post wrote: {', '.join(created) or 'nothing'}")
        per_client = max(1, calls // clients)
        await _load(client, "Post", request, max(5, per_client // 10))  # warm-up
        await _load(client, "Pre", request, max(5, per_client // 10))
        before = bench_stats.request_counts(_metrics(plane), RESOURCES)
        offset = plane.audit_offset()
        cpu = bench_procs.cpu_seconds(server_pid)
        post = await _load(client, "Post", request, per_client)
        post_cpu = bench_procs.cpu_seconds(server_pid) - cpu
        after = bench_stats.request_counts(_metrics(plane), RESOURCES)
        writes = [
            f"{e['verb']} {e['objectRef']['resource']}"
            for e in plane.audit_writes(offset, user="kube-harness-admin")
        ]
        cpu = bench_procs.cpu_seconds(server_pid)
        pre = await _load(client, "Pre", request, per_client)
        pre_cpu = bench_procs.cpu_seconds(server_pid) - cpu
        single = Client(port, pki, 1)
        try:
            post_single = await _load(single, "Post", request, max(50, calls // 10))
            pre_single = await _load(single, "Pre", request, max(50, calls // 10))
        finally:
            await single.close()
    finally:
        await client.close()
    delta = bench_stats.request_delta(before, after)
    return {
        "start_to_first_probe_s": round(start_s, 3),
        "cluster_json_kib": round(len(payload) / 1024, 1),
        "first_post_writes": created,
        "post": bench_stats.latency_summary(post),
        "pre": bench_stats.latency_summary(pre),
        "post_one_client": bench_stats.latency_summary(post_single),
        "pre_one_client": bench_stats.latency_summary(pre_single),
        "server_cpu_ms_per_post": round(post_cpu / len(post) * 1000, 3),
        "server_cpu_ms_per_pre": round(pre_cpu / len(pre) * 1000, 3),
        "requests_per_post": {
            "reads": round(delta["reads"] / len(post), 3),
            "writes": round(len(writes) / len(post), 3),
            "writes_by_metrics": round(delta["writes"] / len(post), 3),
            "detail": {k: v for k, v in delta.items() if k not in ("reads", "writes")},
            "audited_writes": writes[:20],
        },
    }


async def _drive_floor(
    port: int, pki: dict[str, Path], payload: bytes, clients: int, calls: int
) -> dict[str, Any]:
    """The same 10-client load against the do-nothing server (bench/floor_server.py)."""
    from cnpg_wal_replica._pb import reconciler_pb2

    request = reconciler_pb2.ReconcilerHooksRequest(
        cluster_definition=payload, resource_definition=payload
    )
    client = Client(port, pki, clients)
    try:
        await _first_probe(client, time.monotonic())
        per_client = max(1, calls // clients)
        await _load(client, "Pre", request, max(5, per_client // 10))
        post = await _load(client, "Post", request, per_client)
        pre = await _load(client, "Pre", request, per_client)
    finally:
        await client.close()
    return {"post": bench_stats.latency_summary(post), "pre": bench_stats.latency_summary(pre)}


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_floor(pki: dict[str, Path], payload: bytes, clients: int, calls: int) -> dict[str, Any]:
    """Start the do-nothing server, load it like the plugin, stop it."""
    port = bench_procs.free_port()
    script = Path(__file__).resolve().parent / "floor_server.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    argv = [sys.executable, str(script), str(port), str(pki["server_cert"]),
            str(pki["server_key"]), str(pki["client_cert"])]  # fmt: skip
    process = subprocess.Popen(argv, env=env)
    try:
        return asyncio.run(_drive_floor(port, pki, payload, clients, calls))
    finally:
        _terminate(process, 10)


def measure(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the whole plugin benchmark; the numbers as a dict."""
    from support import kubeplane

    clients, calls = (10, 500) if quick else (10, 2000)
    workdir = Path(tempfile.mkdtemp(prefix="bench-plugin-"))
    plane = kubeplane.start()
    log(f"  control plane up in {plane.start_seconds:.1f} s")
    process: subprocess.Popen[bytes] | None = None
    try:
        document = _create_cluster(plane)
        pki = _write_pki(workdir / "tls")
        kubeconfig = plane.write_kubeconfig(
            workdir / "plugin.kubeconfig",
            {"client-certificate": str(plane.admin.cert), "client-key": str(plane.admin.key)},
            namespace=NAMESPACE,
        )
        port = bench_procs.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
        env["KUBECONFIG"] = str(kubeconfig)
        argv = [
            sys.executable, "-m", "cnpg_wal_replica", "serve",
            "--server-cert", str(pki["server_cert"]),
            "--server-key", str(pki["server_key"]),
            "--client-cert", str(pki["client_cert"]),
            "--server-address", f"127.0.0.1:{port}",
            "--receiver-image", "ghcr.io/documentdb/cnpg-wal-replica:bench",
            "--janitor-interval", "3600",
            "--log-format", "json",
        ]  # fmt: skip
        log_path = workdir / "serve.log"
        with log_path.open("wb") as server_log:
            started = time.monotonic()
            process = subprocess.Popen(argv, env=env, stdout=server_log, stderr=server_log)
        result = asyncio.run(
            _drive(plane, process.pid, port, pki, started, document, clients, calls, log)
        )
        result["server_rss_mib"] = round(
            (bench_procs.status_kib(process.pid, "VmRSS") or 0) / 1024, 1
        )
        result["server_peak_rss_mib"] = round(
            (bench_procs.status_kib(process.pid, "VmHWM") or 0) / 1024, 1
        )
        result["clients"] = clients
        result["go_plugin_per_post"] = GO_PLUGIN_PER_POST
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}: {log_path.read_text()}")
        result["floor"] = measure_floor(pki, json.dumps(document).encode(), clients, calls)
        floor = result["floor"]
        log(
            f"  do-nothing gRPC server: Post p99 {floor['post']['p99_ms']:.2f} ms, "
            f"Pre p99 {floor['pre']['p99_ms']:.2f} ms"
        )
    finally:
        if process is not None and process.poll() is None:
            _terminate(process, 30)
        plane.stop()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return result
