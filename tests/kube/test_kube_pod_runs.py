"""What the plugin writes is what runs: the stored Deployment's container, executed locally.

The plugin (as its ServiceAccount) writes the receiver Deployment for a Cluster whose CNPG
secrets hold a real local PostgreSQL's certificates. The test reads the Deployment and the
Secrets back from the API server, lays the mounts out as the kubelet would (`podlocal`),
and executes the container's command and args with its env, as its runAsUser/runAsGroup,
against that PostgreSQL (TLS, `cert` auth for streaming_replica, verify-full). WAL must arrive.

Two values differ from the pod, because this machine is not the pod network: the PostgreSQL
port (the test server cannot own 5432) and the HTTP address (0.0.0.0:8080 may be taken).
The host comes from the real `replicationHost` parameter (`localhost`, which the Cluster adds
to `spec.certificates.serverAltDNSNames`, as a user would, and which the local server's
certificate carries).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Secret
from support import kubeobjects, podlocal, walpki
from support.kubecore import reconciler_on

from cnpg_wal_replica import localpg

pytestmark = [pytest.mark.kube, pytest.mark.postgres, pytest.mark.slow]

if not (Path("/usr/lib/postgresql") / localpg.PG_VERSION / "bin" / "postgres").exists():
    pytest.skip("PostgreSQL 15 server binaries are not installed", allow_module_level=True)

T = TypeVar("T")
SEGMENT = re.compile(r"^[0-9A-F]{24}$")


@pytest.fixture
def pod_root() -> Iterator[Path]:
    """Outside pytest's 0700 tmp tree, so the pod's UID can reach its mounts."""
    root = Path(tempfile.mkdtemp(prefix="kube-harness-pod-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_as_pod_user(user: int | None, group: int | None) -> bool:
    """Whether this machine can run the venv's interpreter as the pod's UID/GID.

    It cannot when not root, or when the interpreter lives under a directory that UID
    cannot enter (e.g. a pyenv under /root); the test then runs as the current user.
    """
    if os.geteuid() != 0 or user is None:
        return False
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "pass"],
            user=user,
            group=group,
            capture_output=True,
            check=False,
        )
    except PermissionError:
        return False
    return probe.returncode == 0


@pytest.fixture
def primary() -> Iterator[localpg.LocalPostgres]:
    with localpg.local_postgres() as pg:
        yield pg


def secret_data(pg: localpg.LocalPostgres, wal: Path) -> dict[str, dict[str, bytes]]:
    """The two Secrets CNPG generates (the CA with its key, streaming_replica's pair) and
    the one cert-manager writes for the receiver's WAL server (from a `WalPki` bundle)."""
    tls = pg.tls
    return {
        "pg-wal-receiver-server-tls": {
            name: (wal / name).read_bytes() for name in ("tls.crt", "tls.key", "ca.crt")
        },
        "pg-ca": {"ca.crt": tls.ca_cert.read_bytes(), "ca.key": tls.ca_key.read_bytes()},
        "pg-replication": {
            "tls.crt": tls.client_cert.read_bytes(),
            "tls.key": tls.client_key.read_bytes(),
        },
    }


async def test_the_stored_deployment_streams_wal_from_a_real_primary(
    primary: localpg.LocalPostgres,
    kube_admin: AsyncClient,
    kube_plugin_client: AsyncClient,
    namespace: str,
    pod_root: Path,
) -> None:
    wal_pki = walpki.WalPki(pod_root / "wal-pki")
    for name, data in secret_data(primary, wal_pki.server).items():
        secret_type = "Opaque" if name == "pg-ca" else "kubernetes.io/tls"
        await kube_admin.create(
            Secret(
                metadata=ObjectMeta(name=name, namespace=namespace),
                type=secret_type,
                stringData={key: value.decode() for key, value in data.items()},
            )
        )
    cluster = await kubeobjects.create_cluster(
        kube_admin,
        namespace,
        "pg",
        {"replicationHost": "localhost", "slotName": "wal_replica"},
        server_alt_dns_names=("localhost",),  # as a user does for an extra host name
    )
    await reconciler_on(kube_plugin_client, "unused:1").post(kubeobjects.cluster_bytes(cluster))

    stored = (await kube_admin.get(Deployment, "pg-wal-receiver", namespace=namespace)).to_dict()
    mounted = {}
    for volume in stored["spec"]["template"]["spec"]["volumes"]:
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            secret = await kube_admin.get(Secret, name, namespace=namespace)
            mounted[name] = {k: _b64(v) for k, v in (secret.data or {}).items()}
    pod = podlocal.materialize(stored, mounted, pod_root / "pod")
    assert pod.argv == ["cnpg-wal-replica", "receive"]
    assert (pod.user, pod.group) == (26, 26)  # CNPG's postgres UID/GID

    streamed = await asyncio.to_thread(run_pod, pod, primary, pod_root)

    assert streamed.segments, streamed.log
    assert streamed.slots == [("wal_replica", True)]
    assert ("pg-wal-receiver",) in streamed.applications


@dataclass(frozen=True)
class Streamed:
    segments: list[str]
    slots: list[tuple[Any, ...]]
    applications: list[tuple[Any, ...]]
    log: str


def run_pod(pod: podlocal.LocalPod, primary: localpg.LocalPostgres, root: Path) -> Streamed:
    """Exec the container, write WAL on the primary, wait for a segment, stop the container."""
    wal_dir = Path(pod.env["WAL_RECEIVER_WAL_DIRECTORY"])
    http_port = localpg.free_port()
    env = {
        **pod.env,
        "WAL_RECEIVER_PORT": str(primary.port),
        "WAL_RECEIVER_HTTP_ADDRESS": f"127.0.0.1:{http_port}",
        "WAL_RECEIVER_SERVE_ADDRESS": f"127.0.0.1:{localpg.free_port()}",
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(root / "pod"),
    }
    identity: dict[str, Any] = {}
    if run_as_pod_user(pod.user, pod.group):
        identity = {"user": pod.user, "group": pod.group, "extra_groups": pod.extra_groups}
    log = root / "receiver.log"
    with log.open("wb") as out:
        receiver = subprocess.Popen(
            pod.argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root / "pod",
            start_new_session=True,
            **identity,
        )
    try:
        _wait(lambda: _ready(http_port), 60, "receiver /readyz", receiver, log)
        primary.sql("CREATE TABLE filler AS SELECT generate_series(1, 20000) AS n")
        primary.sql("SELECT pg_switch_wal()")
        segments = _wait(
            lambda: sorted(p.name for p in wal_dir.iterdir() if SEGMENT.match(p.name)),
            60,
            "a complete WAL segment in the WAL volume",
            receiver,
            log,
        )
        slots = primary.sql(
            "SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = 'wal_replica'"
        )
        applications = primary.sql("SELECT application_name FROM pg_stat_replication")
    finally:
        if receiver.poll() is None:
            os.killpg(receiver.pid, signal.SIGTERM)
            try:
                receiver.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(receiver.pid, signal.SIGKILL)
                receiver.wait()
    return Streamed(segments, slots, applications, log.read_text(errors="replace"))


def _b64(value: str) -> bytes:
    import base64

    return base64.b64decode(value)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"receiver exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{log.read_text()[-4000:]}")
