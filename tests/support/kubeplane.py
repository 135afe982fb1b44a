"""A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager.

Everything listens on 127.0.0.1 on free ports, with certificates and service-account keys
generated per start (`kubepki`). Authorization is RBAC; the controller manager runs the
garbage collector, namespace, serviceaccount and token controllers with per-controller
credentials, so owner references really delete dependents. CRDs are installed before the
controller manager starts, so the garbage collector watches them from its first sync.
The API server writes an audit log of every write (create/update/patch/delete), which tests
read to prove that a reconcile wrote nothing, and of every request, reads included, of the
plugin's ServiceAccount (`READS_AUDITED_FOR`), from which a test derives the RBAC it needs.

`start()` ties the processes to the caller (they die with it, and `stop()` runs at exit);
`python tests/support/kubeplane.py up|down` runs one detached for use by hand
(`scripts/kube-harness up`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

if __package__ in (None, ""):  # run as a script: make `support` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import harnesspaths, kubepki, scriptcli

SERVICE_CIDR = "10.96.0.0/24"
ISSUER = "https://kubernetes.default.svc.cluster.local"
CONTROLLERS = ",".join(
    [
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "persistentvolumeclaim-protection-controller",
    ]
)
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READS_AUDITED_FOR = ("system:serviceaccount:cnpg-system:cnpg-wal-replica",)
"""Users whose reads (get, list, watch) are audited too: the plugin (`kubeobjects`)."""
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "users": list(READS_AUDITED_FOR)},
        {"level": "Metadata", "verbs": list(WRITE_VERBS)},
        {"level": "None"},
    ],
}
_PR_SET_PDEATHSIG = 1
# The API server's identity towards kubelets (exec, logs, port-forward).
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class PlaneOptions:
    """How and where to run the plane; the defaults are the API-only plane on 127.0.0.1.

    The node (`kubenode`) runs the same processes inside its network namespace: it passes a
    command prefix that enters the namespace, binds the API server to the node's address with
    the endpoint reconciler on (pods reach it through the `kubernetes` Service), runs every
    default controller, and reaches it from the host through a forwarded port (`server`).
    """

    bind_address: str = "127.0.0.1"
    advertise_address: str = "127.0.0.1"
    api_port: int = 0  # 0: a free port on 127.0.0.1
    server: str = ""  # the URL clients use; default https://127.0.0.1:<api_port>
    command_prefix: tuple[str, ...] = ()
    controllers: str = CONTROLLERS
    authorization_mode: str = "RBAC"
    endpoint_reconciler: str = "none"
    serving_ips: tuple[str, ...] = ()
    allow_privileged: bool = True
    """As on kubeadm clusters: a privileged pod spec passes validation, so admission policies
    (deploy/'s) see it."""
    extra_apiserver_args: tuple[str, ...] = ()
    extra_manager_args: tuple[str, ...] = ()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the process that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Component:
    """One running binary, in its own process group, logging to a file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class ControlPlane:
    """A started control plane; `stop()` ends every process and deletes `workdir`."""

    workdir: Path
    server: str
    ca_cert: Path
    admin: kubepki.KeyPair
    admin_kubeconfig: Path
    audit_log: Path
    ca: kubepki.CertificateAuthority | None = None
    components: list[Component] = field(default_factory=list)
    start_seconds: float = 0.0
    _stopped: bool = False

    def http(self) -> httpx.Client:
        """A plain HTTP client with admin credentials, for raw API calls."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        context.load_cert_chain(str(self.admin.cert), str(self.admin.key))
        return httpx.Client(base_url=self.server, verify=context, timeout=30)

    def check_alive(self) -> None:
        for component in self.components:
            if component.process.poll() is not None:
                raise RuntimeError(
                    f"{component.name} exited with {component.process.returncode}; "
                    f"log {component.log}:\n{component.log_tail()}"
                )

    def install_crds(self, files: Iterable[Path], timeout: float = 60) -> list[str]:
        """Create the CRDs in `files` (existing ones are left) and wait until established."""
        names = []
        with self.http() as http:
            for path in files:
                for doc in yaml.load_all(path.read_text(), Loader=_LOADER):
                    if not doc or doc.get("kind") != "CustomResourceDefinition":
                        continue
                    response = http.post(
                        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=doc
                    )
                    if response.status_code not in (201, 409):
                        raise RuntimeError(f"creating CRD from {path}: {response.text}")
                    names.append(doc["metadata"]["name"])
            for name in names:
                _wait_for(
                    functools.partial(_crd_established, http, name),
                    timeout,
                    f"CRD {name} established",
                    self.check_alive,
                )
        return names

    def write_kubeconfig(
        self, path: Path, user: dict[str, str], namespace: str = "default", server: str = ""
    ) -> Path:
        """Write a kubeconfig with `user` credentials (token or cert files).

        `server` defaults to the URL the host reaches; the node passes its in-namespace URL.
        """
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "kube-harness",
                            "cluster": {
                                "server": server or self.server,
                                "certificate-authority": str(self.ca_cert),
                            },
                        }
                    ],
                    "users": [{"name": "user", "user": user}],
                    "contexts": [
                        {
                            "name": "kube-harness",
                            "context": {
                                "cluster": "kube-harness",
                                "user": "user",
                                "namespace": namespace,
                            },
                        }
                    ],
                    "current-context": "kube-harness",
                }
            )
        )
        path.chmod(0o600)
        return path

    def audit_offset(self) -> int:
        """Current size of the audit log; pass it to `audit_writes` to see only later events."""
        try:
            return self.audit_log.stat().st_size
        except FileNotFoundError:
            return 0

    def audit_writes(self, since: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        """Write requests (create/update/patch/delete) logged after byte offset `since`."""
        return [e for e in self.audit_requests(since, user) if e.get("verb") in WRITE_VERBS]

    def audit_requests(self, since: int = 0, user: str | None = None) -> list[dict[str, Any]]:
        """Every audited request completed after byte offset `since` (reads: `READS_AUDITED_FOR`).

        A watch still open has only its ResponseStarted event: it counts too.
        """
        with self.audit_log.open("rb") as log:
            log.seek(max(since - 1, 0))
            data = log.read()
        # The API server may be writing a line at either end: only whole lines count. The
        # byte before `since` is the newline of the line before it, or `since` fell inside a
        # line that began earlier; either way the data up to the first newline goes.
        if since > 0:
            data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""
        lines = data.split(b"\n")[:-1]
        events = [json.loads(line) for line in lines if line.strip()]
        complete = {e["auditID"] for e in events if e.get("stage") == "ResponseComplete"}
        return [
            event
            for event in events
            if (
                event.get("stage") == "ResponseComplete"
                or (event.get("stage") == "ResponseStarted" and event["auditID"] not in complete)
            )
            and (user is None or event.get("user", {}).get("username") == user)
        ]

    def stop(self) -> None:
        """Terminate every process group (SIGTERM, then SIGKILL) and delete the data."""
        if self._stopped:
            return
        self._stopped = True
        for component in reversed(self.components):
            _terminate(component.process)
        shutil.rmtree(self.workdir, ignore_errors=True)


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _terminate(process: subprocess.Popen[bytes], grace: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _crd_established(http: httpx.Client, name: str) -> bool:
    response = http.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    conditions = (response.json().get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def _wait_for(
    ready: Callable[[], bool], timeout: float, what: str, check: Callable[[], None]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _spawn(
    plane: ControlPlane,
    name: str,
    argv: Sequence[str],
    tied_to_parent: bool,
    prefix: Sequence[str] = (),
) -> Component:
    log = plane.workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if tied_to_parent else None,
        )
    component = Component(name, process, log)
    plane.components.append(component)
    return component


def start(
    *,
    tied_to_parent: bool = True,
    workdir: Path | None = None,
    crd_files: Iterable[Path] | None = None,
    ready_timeout: float = 120,
    options: PlaneOptions | None = None,
) -> ControlPlane:
    """Start etcd, kube-apiserver and kube-controller-manager and install the CNPG CRDs.

    Raises `harnesspaths.HarnessMissing` when the binaries or CRDs were not built.
    """
    options = options or PlaneOptions()
    started = time.monotonic()
    binaries = harnesspaths.kube_binaries()
    crds = list(crd_files) if crd_files is not None else harnesspaths.crd_files("cloudnative-pg")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="kube-harness-"))
    pki = workdir / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    ca = kubepki.CertificateAuthority(pki)
    serving = ca.issue(
        "apiserver",
        "kube-apiserver",
        server=True,
        dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
        ip_addresses=("127.0.0.1", "10.96.0.1", *options.serving_ips),
    )
    admin = ca.issue("admin", "kube-harness-admin", organizations=("system:masters",), client=True)
    manager = ca.issue("controller-manager", "system:kube-controller-manager", client=True)
    kubelet_client = ca.issue("kubelet-client", KUBELET_CLIENT_USER, client=True)
    sa = kubepki.service_account_keys(pki)
    etcd_port, peer_port = free_port(), free_port()
    api_port = options.api_port or free_port()
    plane = ControlPlane(
        workdir=workdir,
        server=options.server or f"https://127.0.0.1:{api_port}",
        ca_cert=ca.cert_path,
        admin=admin,
        admin_kubeconfig=workdir / "admin.kubeconfig",
        audit_log=workdir / "audit.log",
        ca=ca,
    )
    if tied_to_parent:
        atexit.register(plane.stop)
    try:
        _launch(
            plane,
            binaries,
            tied_to_parent,
            (etcd_port, peer_port, api_port),
            (serving, sa, kubelet_client),
            ready_timeout,
            options,
        )
        plane.write_kubeconfig(
            plane.admin_kubeconfig,
            {"client-certificate": str(admin.cert), "client-key": str(admin.key)},
        )
        plane.install_crds(crds)
        manager_kubeconfig = plane.write_kubeconfig(
            workdir / "controller-manager.kubeconfig",
            {"client-certificate": str(manager.cert), "client-key": str(manager.key)},
            server=_internal_server(options, api_port),
        )
        _spawn(
            plane,
            "kube-controller-manager",
            [
                str(binaries.controller_manager),
                f"--kubeconfig={manager_kubeconfig}",
                "--secure-port=0",
                f"--controllers={options.controllers}",
                "--use-service-account-credentials=true",
                f"--service-account-private-key-file={sa.key}",
                f"--root-ca-file={ca.cert_path}",
                "--leader-elect=false",
                *options.extra_manager_args,
            ],
            tied_to_parent,
            options.command_prefix,
        )
        time.sleep(0.2)
        plane.check_alive()
    except BaseException:
        plane.stop()
        raise
    plane.start_seconds = time.monotonic() - started
    return plane


def _internal_server(options: PlaneOptions, api_port: int) -> str:
    """The API server's URL as seen by processes that run beside it."""
    return f"https://{options.advertise_address}:{api_port}"


def _launch(
    plane: ControlPlane,
    binaries: harnesspaths.KubeBinaries,
    tied_to_parent: bool,
    ports: tuple[int, int, int],
    keys: tuple[kubepki.KeyPair, kubepki.KeyPair, kubepki.KeyPair],
    ready_timeout: float,
    options: PlaneOptions,
) -> None:
    etcd_port, peer_port, api_port = ports
    serving, sa, kubelet_client = keys
    peer_url = f"http://127.0.0.1:{peer_port}"
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    _spawn(
        plane,
        "etcd",
        [
            str(binaries.etcd),
            "--name=harness",
            f"--data-dir={plane.workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=harness={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        tied_to_parent,
        options.command_prefix,
    )
    policy = plane.workdir / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(AUDIT_POLICY))
    _spawn(
        plane,
        "kube-apiserver",
        [
            str(binaries.apiserver),
            f"--etcd-servers={etcd_url}",
            f"--bind-address={options.bind_address}",
            f"--advertise-address={options.advertise_address}",
            f"--secure-port={api_port}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={plane.ca_cert}",
            f"--authorization-mode={options.authorization_mode}",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={sa.cert}",
            f"--service-account-signing-key-file={sa.key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={plane.audit_log}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            f"--cert-dir={plane.workdir / 'apiserver-certs'}",
            f"--endpoint-reconciler-type={options.endpoint_reconciler}",
            f"--kubelet-client-certificate={kubelet_client.cert}",
            f"--kubelet-client-key={kubelet_client.key}",
            f"--kubelet-certificate-authority={plane.ca_cert}",
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            f"--allow-privileged={str(options.allow_privileged).lower()}",
            *options.extra_apiserver_args,
        ],
        tied_to_parent,
        options.command_prefix,
    )
    with plane.http() as http:
        _wait_for(
            lambda: http.get("/readyz").status_code == 200,
            ready_timeout,
            "kube-apiserver /readyz",
            plane.check_alive,
        )


def _state_file() -> Path:
    return harnesspaths.cache_root() / "run" / "state.json"


def _cli_up() -> int:
    state = _state_file()
    if state.exists():
        print(f"already up (state {state}); run `scripts/kube-harness down` first", file=sys.stderr)
        return 1
    state.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kube-harness-up-"))
    plane = start(tied_to_parent=False, workdir=workdir)
    state.write_text(
        json.dumps(
            {
                "workdir": str(plane.workdir),
                "kubeconfig": str(plane.admin_kubeconfig),
                "pids": [c.process.pid for c in plane.components],
            }
        )
    )
    print(f"# control plane up in {plane.start_seconds:.1f}s; data and logs in {plane.workdir}")
    print(f"export KUBECONFIG={plane.admin_kubeconfig}")
    print(f"# kubectl --kubeconfig {plane.admin_kubeconfig} get ns")
    print("# stop it with: scripts/kube-harness down")
    return 0


def _cli_down() -> int:
    state = _state_file()
    if not state.exists():
        print("not up", file=sys.stderr)
        return 0
    data = json.loads(state.read_text())
    for pid in reversed(data["pids"]):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for pid in data["pids"]:
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(data["workdir"], ignore_errors=True)
    state.unlink()
    print(f"stopped; removed {data['workdir']}")
    return 0


if __name__ == "__main__":
    scriptcli.run_commands({"up": _cli_up, "down": _cli_down}, "kubeplane.py up|down")
