"""A real single-node Kubernetes on this machine, in its own namespaces, for the e2e tests.

`start()` brings up, inside the node's network and mount namespaces (`nodens`): the control
plane of `kubeplane` with every default controller, kube-scheduler, CoreDNS, containerd 2
with runc, kubelet and kube-proxy; it imports the locally built images (`images`) into
containerd before any pod starts (nothing is ever pulled) and waits for the node to be Ready.
`nodeinstall` then installs cert-manager, the local-path provisioner, CNPG and the plugin.

The host reaches the API server through a forwarded port on 127.0.0.1. `Node.stop()` (and
`python tests/support/kubenode.py down`, also after a crash) removes every process, mount,
namespace, cgroup and directory the node made.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a script: make `support` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import harnesspaths, images, kubepki, kubeplane, nodeconfig, nodens, scriptcli
from support.nodeconfig import NodeLayout

NODE_CONTROLLERS = "*"


def layout() -> NodeLayout:
    return NodeLayout(Path(os.environ.get("CNPG_WAL_REPLICA_NODE_ROOT", nodeconfig.DEFAULT_ROOT)))


def log(message: str) -> None:
    print(f"kube-node: {message}", file=sys.stderr, flush=True)


@dataclass
class Node:
    """A running node: the plane (admin kubeconfig on the host side) and its extra parts."""

    layout: NodeLayout
    plane: kubeplane.ControlPlane
    holder_pid: int
    forwarder: nodens.Forwarder | None
    created_dirs: list[str]
    components: list[kubeplane.Component] = field(default_factory=list)
    extra_pids: list[int] = field(default_factory=list)  # holder, detached forwarder
    # The images imported at start, by name: refs are taken once, since a ref follows its
    # inputs (our image's follows every edit under src/) and may change while the node runs.
    image_refs: dict[str, str] = field(default_factory=dict)
    image_archives: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    _stopped: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.plane.admin_kubeconfig

    def prefix(self) -> tuple[str, ...]:
        return nodens.enter_prefix(self.holder_pid)

    def check_alive(self) -> None:
        self.plane.check_alive()
        for component in self.components:
            if component.process.poll() is not None:
                raise RuntimeError(
                    f"{component.name} exited with {component.process.returncode}; "
                    f"log {component.log}:\n{component.log_tail()}"
                )

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the harness's kubectl as the admin, from the host."""
        argv = [str(harnesspaths.node_binaries().kubectl), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, input=input, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def kubectl_cnpg(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run CNPG's kubectl plugin (built from the operator's module) as the admin."""
        argv = [str(harnesspaths.node_binaries().kubectl_cnpg), f"--kubeconfig={self.kubeconfig}"]
        result = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"kubectl cnpg {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        for component in reversed(self.components):
            kubeplane._terminate(component.process, grace=5)
        self.plane.stop()
        if self.forwarder is not None:
            self.forwarder.close()
        for line in nodens.destroy(self.layout, self.created_dirs):
            log(f"removed {line}")


def _spawn(node: Node, name: str, argv: list[str], tied: bool) -> kubeplane.Component:
    component = kubeplane._spawn(node.plane, name, argv, tied, node.prefix())
    node.components.append(component)
    node.plane.components.remove(component)
    return component


def _wait(node: Node, ready: Callable[[], bool], timeout: float, what: str) -> None:
    kubeplane._wait_for(ready, timeout, what, node.check_alive)


def _issue_node_pki(ca: kubepki.CertificateAuthority) -> dict[str, kubepki.KeyPair]:
    return {
        "kubelet": ca.issue(
            "kubelet",
            f"system:node:{nodeconfig.NODE_NAME}",
            organizations=("system:nodes",),
            client=True,
        ),
        "kubelet-serving": ca.issue(
            "kubelet-serving",
            nodeconfig.NODE_NAME,
            server=True,
            dns_names=(nodeconfig.NODE_NAME,),
            ip_addresses=(nodeconfig.NODE_IP,),
        ),
        "kube-proxy": ca.issue("kube-proxy", "system:kube-proxy", client=True),
        "scheduler": ca.issue("scheduler", "system:kube-scheduler", client=True),
        "coredns": ca.issue("coredns", "system:coredns", client=True),
        "cert-manager": ca.issue("cert-manager", CERT_MANAGER_USER, client=True),
    }


CERT_MANAGER_USER = "system:serviceaccount:cert-manager:cert-manager"
"""cert-manager's user: the name its Helm chart's ServiceAccount has, which deploy/'s WAL CA
admission policy admits (the harness runs it from a kubeconfig with this certificate CN)."""

INTERNAL_SERVER = f"https://{nodeconfig.NODE_IP}:{nodeconfig.API_PORT}"


def _kubeconfig(node: Node, stem: str, pair: kubepki.KeyPair) -> Path:
    return node.plane.write_kubeconfig(
        node.layout.run / f"{stem}.kubeconfig",
        {"client-certificate": str(pair.cert), "client-key": str(pair.key)},
        server=INTERNAL_SERVER,
    )


def _write_configs(node: Node, keys: dict[str, kubepki.KeyPair]) -> dict[str, Path]:
    lay, ca = node.layout, node.plane.ca_cert
    kubeconfigs = {
        stem: _kubeconfig(node, stem, pair)
        for stem, pair in keys.items()
        if stem != "kubelet-serving"
    }
    lay.containerd_config.write_text(nodeconfig.containerd_config(lay, node.image_refs["pause"]))
    lay.kubelet_config.write_text(
        yaml.safe_dump(
            nodeconfig.kubelet_config(
                lay, ca, keys["kubelet-serving"].cert, keys["kubelet-serving"].key
            )
        )
    )
    lay.kube_proxy_config.write_text(
        yaml.safe_dump(nodeconfig.kube_proxy_config(kubeconfigs["kube-proxy"]))
    )
    lay.corefile.write_text(nodeconfig.corefile(kubeconfigs["coredns"]))
    lay.resolv_conf.write_text(nodeconfig.resolv_conf())
    cni = lay.bind_source("/etc/cni/net.d")
    cni.mkdir(parents=True, exist_ok=True)
    (cni / "10-harness.conflist").write_text(nodeconfig.dump_json(nodeconfig.cni_conflist()))
    return kubeconfigs


def _bootstrap_rbac(node: Node) -> None:
    """What kubeadm would create: the apiserver→kubelet and CoreDNS permissions."""
    manifests = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "harness:kube-apiserver-kubelet-client"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": kubeplane.KUBELET_CLIENT_USER,
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "harness:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "harness:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "harness:coredns",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}
            ],
        },
    ]
    node.kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        input="\n---\n".join(yaml.safe_dump(m) for m in manifests),
    )


def _node_ready(node: Node) -> bool:
    with node.plane.http() as http:
        response = http.get(f"/api/v1/nodes/{nodeconfig.NODE_NAME}")
        if response.status_code != 200:
            return False
        conditions = response.json().get("status", {}).get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _import_images(node: Node, names: list[str]) -> None:
    binaries = harnesspaths.node_binaries()
    for name in names:
        archive = node.image_archives[name]
        subprocess.run(
            [
                *node.prefix(),
                str(binaries.ctr),
                "--address",
                node.layout.containerd_socket,
                "-n",
                "k8s.io",
                "images",
                "import",
                "--no-unpack=false",
                str(archive),
            ],
            check=True,
            capture_output=True,
        )


def start(*, tied_to_parent: bool = True, forward_port: int = 0) -> Node:
    """Bring the node up (cleaning whatever an earlier node left) and wait until Ready."""
    lay = layout()
    binaries = harnesspaths.node_binaries()
    # Build what is not cached (after an edit under src/, our image: about 16 s), taking each
    # image's ref and archive once.
    needed = {name: images.image(name) for name in images.NODE_IMAGES}
    for img in needed.values():
        images.build(img)
    down(quiet=True)
    started = time.monotonic()
    created = [target for _, target in lay.binds() if not Path(target).exists()]
    for directory in (lay.run, lay.logs, lay.volumes, lay.runc_root):
        directory.mkdir(parents=True, exist_ok=True)
    lay.state_file.write_text(json.dumps({"created_dirs": created}))
    nodens.create_network()
    holder = nodens.start_holder(lay)
    forwarder, port, extra_pids = None, forward_port, [holder]
    if tied_to_parent:
        forwarder = nodens.Forwarder((nodeconfig.NODE_IP, nodeconfig.API_PORT), forward_port)
        port = forwarder.port
    else:  # a process of its own that outlives this one, like every other part
        port = port or kubeplane.free_port()
        extra_pids.append(_spawn_forwarder(lay, port))
    options = kubeplane.PlaneOptions(
        bind_address="0.0.0.0",
        advertise_address=nodeconfig.NODE_IP,
        api_port=nodeconfig.API_PORT,
        server=f"https://127.0.0.1:{port}",
        command_prefix=nodens.enter_prefix(holder),
        controllers=NODE_CONTROLLERS,
        authorization_mode="Node,RBAC",
        endpoint_reconciler="lease",
        serving_ips=(nodeconfig.NODE_IP,),
        extra_apiserver_args=("--enable-admission-plugins=NodeRestriction",),
    )
    plane = kubeplane.start(
        tied_to_parent=tied_to_parent,
        workdir=lay.plane,
        options=options,
        crd_files=harnesspaths.crd_files("cloudnative-pg") + harnesspaths.crd_files("cert-manager"),
    )
    node = Node(
        lay,
        plane,
        holder,
        forwarder,
        created,
        extra_pids=extra_pids,
        image_refs={name: img.ref for name, img in needed.items()},
        image_archives={name: img.archive for name, img in needed.items()},
    )
    if tied_to_parent:
        atexit.register(node.stop)
    try:
        node.timings["control plane"] = time.monotonic() - started
        assert plane.ca is not None
        keys = _issue_node_pki(plane.ca)
        kubeconfigs = _write_configs(node, keys)
        _bootstrap_rbac(node)
        _spawn(
            node,
            "kube-scheduler",
            [
                str(binaries.kube_scheduler),
                f"--kubeconfig={kubeconfigs['scheduler']}",
                "--leader-elect=false",
                "--secure-port=0",
            ],
            tied_to_parent,
        )
        _spawn(node, "coredns", [str(binaries.coredns), "-conf", str(lay.corefile)], tied_to_parent)
        # containerd finds its shim on PATH
        shim_path = f"PATH={binaries.containerd_shim_runc_v2.parent}:{os.environ.get('PATH', '')}"
        _spawn(
            node,
            "containerd",
            ["env", shim_path, str(binaries.containerd), "--config", str(lay.containerd_config)],
            tied_to_parent,
        )
        socket_path = lay.bind_source("/run/containerd") / "containerd.sock"
        _wait(node, socket_path.exists, 30, "containerd socket")
        t = time.monotonic()
        _import_images(node, list(needed))
        node.timings["image import"] = time.monotonic() - t
        _spawn(
            node,
            "kubelet",
            [
                str(binaries.kubelet),
                f"--config={lay.kubelet_config}",
                f"--kubeconfig={kubeconfigs['kubelet']}",
                f"--hostname-override={nodeconfig.NODE_NAME}",
                f"--node-ip={nodeconfig.NODE_IP}",
                "--v=1",
            ],
            tied_to_parent,
        )
        _spawn(
            node,
            "kube-proxy",
            [str(binaries.kube_proxy), f"--config={lay.kube_proxy_config}"],
            tied_to_parent,
        )
        _wait(node, lambda: _node_ready(node), 120, f"node {nodeconfig.NODE_NAME} Ready")
        node.timings["node ready"] = time.monotonic() - started
        write_state(node)
    except BaseException:
        node.stop()
        raise
    return node


def _spawn_forwarder(lay: NodeLayout, port: int) -> int:
    with (lay.logs / "forwarder.log").open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, __file__, "forward", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process.pid


def write_state(node: Node) -> None:
    """What `down` and `info` need, also from another process."""
    pids = [c.process.pid for c in node.plane.components + node.components] + node.extra_pids
    node.layout.state_file.write_text(
        json.dumps(
            {
                "created_dirs": node.created_dirs,
                "pids": pids,
                "kubeconfig": str(node.kubeconfig),
                "server": node.plane.server,
                "timings": node.timings,
            }
        )
    )


def down(quiet: bool = False) -> None:
    """Remove whatever a node (running, stopped or crashed) left on this machine."""
    lay = layout()
    created: list[str] = []
    with contextlib.suppress(OSError, ValueError):
        state = json.loads(lay.state_file.read_text())
        created = state.get("created_dirs", [])
        for pid in state.get("pids", []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    for line in nodens.destroy(lay, created):
        if not quiet:
            log(f"removed {line}")


def _cli_up() -> int:
    from support import nodeinstall

    node = start(tied_to_parent=False)
    nodeinstall.install_all(node)
    write_state(node)
    for step, seconds in node.timings.items():
        log(f"{step}: {seconds:.1f} s")
    print(f"export KUBECONFIG={node.kubeconfig}")
    print("# then: kubectl get pods -A; stop with: scripts/kube-harness node down")
    return 0


def _cli_forward(port: str) -> int:
    nodens.Forwarder((nodeconfig.NODE_IP, nodeconfig.API_PORT), int(port))
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


def _cli_info() -> int:
    lay = layout()
    print(f"node root      {lay.root}")
    print(
        f"namespace      ip netns exec {nodeconfig.NETNS} ... (node address {nodeconfig.NODE_IP})"
    )
    try:
        state = json.loads(lay.state_file.read_text())
    except (OSError, ValueError):
        print("state          not up (scripts/kube-harness node up)")
        return 0
    binaries = harnesspaths.node_binaries()
    print(f"API server     {state.get('server', '?')} (forwarded into the namespace)")
    print(f"export KUBECONFIG={state.get('kubeconfig')}")
    print(f"kubectl        {binaries.kubectl} get pods -A")
    print(f"kubectl cnpg   {binaries.kubectl_cnpg} status <cluster> -n <namespace>")
    print(f"logs           {lay.plane}/*.log (etcd, kube-apiserver, kubelet, containerd, ...)")
    print("pod logs       kubectl logs -n <namespace> <pod>")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "forward":
        sys.exit(_cli_forward(sys.argv[2]))
    scriptcli.run_commands(
        {"up": _cli_up, "down": lambda: (down(), 0)[1], "info": _cli_info},
        "kubenode.py up|down|info",
    )
