"""The node's network and mount namespaces, and the one door into them from the host.

`create()` makes the network namespace (loopback and the pod bridge only, no route out) and
a holder process that owns a private mount namespace inside it, where the hard-coded paths of
kubelet/containerd/CNI are bind mounts of directories under the node's root. Every node
process is started with `enter_prefix()` (nsenter into both namespaces), so the mounts they
make never reach the host and disappear with the namespace.

`Forwarder` listens on 127.0.0.1 on the host and opens each upstream connection from a
thread that has joined the node's network namespace: that is how tests, kubectl and people
reach the API server. `destroy()` removes whatever a node left, also after a crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from support import nodeconfig, sockets
from support.nodeconfig import NodeLayout

_CLONE_NEWNET = 0x40000000
NETNS_FILE = Path("/run/netns") / nodeconfig.NETNS


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def _in_netns(*argv: str) -> None:
    _run("ip", "netns", "exec", nodeconfig.NETNS, *argv)


def create_network() -> None:
    """The namespace with loopback and the bridge that is the node's address; no uplink."""
    _run("ip", "netns", "add", nodeconfig.NETNS)
    ns = ("ip", "-n", nodeconfig.NETNS)
    _run(*ns, "link", "set", "lo", "up")
    _run(*ns, "link", "add", nodeconfig.BRIDGE, "type", "bridge")
    _run(*ns, "addr", "add", f"{nodeconfig.NODE_IP}/16", "dev", nodeconfig.BRIDGE)
    _run(*ns, "link", "set", nodeconfig.BRIDGE, "up")
    # Service addresses are routed to the bridge so that locally started connections (the
    # API server calling a webhook Service) reach kube-proxy's NAT rules; nothing else is.
    _run(*ns, "route", "add", nodeconfig.SERVICE_CIDR, "dev", nodeconfig.BRIDGE)
    for setting in (
        "net.ipv4.ip_forward=1",
        "net.bridge.bridge-nf-call-iptables=1",
        "net.bridge.bridge-nf-call-ip6tables=1",
    ):
        _in_netns("sysctl", "-q", "-w", setting)


def start_holder(layout: NodeLayout) -> int:
    """Start the process that owns the node's mount namespace; bind the hard-coded paths."""
    holder = subprocess.Popen(
        [
            "nsenter",
            f"--net={NETNS_FILE}",
            "unshare",
            "--mount",
            "--propagation",
            "slave",
            "sleep",
            "infinity",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    own_mnt = os.readlink("/proc/self/ns/mnt")
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{holder.pid}/ns/mnt") != own_mnt:
                break
        time.sleep(0.02)
    else:
        raise RuntimeError("the node's mount namespace holder did not start")
    prefix = enter_prefix(holder.pid)
    for source, target in layout.binds():
        source.mkdir(parents=True, exist_ok=True)
        Path(target).mkdir(parents=True, exist_ok=True)
        _run(*prefix, "mount", "--bind", str(source), target)
    return holder.pid


def enter_prefix(holder_pid: int) -> tuple[str, ...]:
    """argv prefix that runs a command inside the node's network and mount namespaces."""
    return ("nsenter", "-t", str(holder_pid), "--net", "--mount", "--")


def netns_pids() -> list[int]:
    if not NETNS_FILE.exists():
        return []
    result = subprocess.run(
        ["ip", "netns", "pids", nodeconfig.NETNS], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in result.stdout.split()]


def _pod_cgroup_dirs() -> list[Path]:
    """kubelet's pod cgroups (cgroupfs driver), deepest first, in every hierarchy."""
    found: list[Path] = []
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        top = hierarchy / "kubepods"
        if top.is_dir():
            found += [Path(d) for d, _, _ in os.walk(top)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def destroy(layout: NodeLayout, created_dirs: list[str]) -> list[str]:
    """Remove every process, cgroup, namespace and directory a node made. Idempotent.

    Returns what it removed, for the log. Container processes live in their own namespaces
    but in kubelet's pod cgroups: they are found there.
    """
    removed: list[str] = []
    for _ in range(50):
        pids = netns_pids()
        for directory in _pod_cgroup_dirs():
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (directory / "cgroup.procs").read_text().split()]
        if not pids:
            break
        removed.append(f"killed {len(pids)} processes")
        _kill_all(pids)
        time.sleep(0.1)
    for directory in _pod_cgroup_dirs():
        for _ in range(20):
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"cannot remove cgroup {directory}: processes remain")
    if NETNS_FILE.exists():
        _run("ip", "netns", "del", nodeconfig.NETNS)
        removed.append(f"network namespace {nodeconfig.NETNS}")
    for target in created_dirs:
        with contextlib.suppress(OSError):
            Path(target).rmdir()
    if layout.root.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(layout.root)], check=False)
        removed.append(str(layout.root))
    return removed


def leftovers(layout: NodeLayout) -> list[str]:
    """What of a node is still on this machine (empty after a clean `destroy`)."""
    found = []
    if NETNS_FILE.exists():
        found.append(f"network namespace {nodeconfig.NETNS}")
    found += [f"cgroup {d}" for d in _pod_cgroup_dirs()]
    with open("/proc/self/mounts") as mounts:
        found += [
            f"mount {line.split()[1]}" for line in mounts if str(layout.root) in line.split()[1]
        ]
    if layout.root.exists():
        found.append(f"directory {layout.root}")
    return found


def _setns_net() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_FILE, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the node's network namespace")
    finally:
        os.close(fd)


class Forwarder:
    """TCP from 127.0.0.1:<port> on the host to `target` inside the node's namespace.

    Connections to the target are opened by a thread that joined the namespace (a socket
    belongs to the namespace of the thread that creates it); the copying runs in threads of
    the host namespace. Use in-process (tests) or as a detached process (`kubenode forward`).
    """

    def __init__(self, target: tuple[str, int], port: int = 0) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._requests: list[tuple[socket.socket, threading.Event, list[socket.socket]]] = []
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._dialer, name="netns-dialer", daemon=True).start()
        threading.Thread(target=self._accept, name="forward-accept", daemon=True).start()

    def _dialer(self) -> None:
        _setns_net()
        while True:
            with self._cond:
                while not self._requests and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                client, done, result = self._requests.pop(0)
            try:
                result.append(socket.create_connection(self.target, timeout=5))
            except OSError:
                client.close()
            done.set()

    def _dial(self, client: socket.socket) -> socket.socket | None:
        done, result = threading.Event(), []
        with self._cond:
            self._requests.append((client, done, result))
            self._cond.notify()
        done.wait(10)
        return result[0] if result else None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = self._dial(client)
        if upstream is None:
            client.close()
            return
        upstream.settimeout(None)
        back = threading.Thread(target=sockets.pipe, args=(upstream, client), daemon=True)
        back.start()
        sockets.pipe(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._listener.close()
