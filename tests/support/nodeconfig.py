"""What the single-node Kubernetes of the e2e harness is made of, as pure data.

Every address, path and configuration file of the node is decided here, without I/O, so
`kubenode` (which starts the processes) stays thin and the choices can be read in one place
and unit-tested:

- one network namespace with only loopback and the pod bridge `cni0` (no uplink, no default
  route: nothing can leave the machine); the node's address is the bridge's gateway address;
- one mount namespace in which the paths that kubelet, containerd and the CNI plugins
  hard-code (`/var/lib/kubelet`, `/run/containerd`, `/var/lib/cni`, ...) are bind mounts of
  directories under the node's root, so nothing they write lands in the host's tree and
  every mount they make vanishes with the namespace;
- containerd 2 (CRI) with runc and cgroupfs, kubelet, kube-proxy in iptables mode, and
  CoreDNS serving `cluster.local` on the node's address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETNS = "cnpg-wal-replica-node"
NODE_NAME = "kube-node"
BRIDGE = "cni0"
NODE_IP = "10.244.0.1"
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/24"
CLUSTER_DOMAIN = "cluster.local"
API_PORT = 6443
KUBELET_PORT = 10250
CNI_BIN_DIR = "/usr/lib/cni"
RUNC = "/usr/sbin/runc"
DEFAULT_ROOT = Path("/var/lib/cnpg-wal-replica-node")

# The host paths kubelet, containerd and CNI write to whatever they are told: inside the
# node's mount namespace each is a bind mount of `<root>/binds/<name>`.
HARD_CODED_PATHS = (
    "/var/lib/kubelet",
    "/var/log/pods",
    "/var/log/containers",
    "/var/lib/cni",
    "/etc/cni/net.d",
    "/var/lib/containerd",
    "/run/containerd",
    "/run/netns",
)


@dataclass(frozen=True)
class NodeLayout:
    """Every directory and file of one node, below one root that `down` deletes."""

    root: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def plane(self) -> Path:
        return self.root / "plane"

    @property
    def pki(self) -> Path:
        return self.root / "node-pki"

    @property
    def volumes(self) -> Path:
        """Where the local-path provisioner creates each PersistentVolume's directory."""
        return self.root / "volumes"

    @property
    def runc_root(self) -> Path:
        return self.root / "runc"

    @property
    def containerd_config(self) -> Path:
        return self.run / "containerd.toml"

    @property
    def containerd_socket(self) -> str:
        return "/run/containerd/containerd.sock"

    @property
    def kubelet_config(self) -> Path:
        return self.run / "kubelet.yaml"

    @property
    def kube_proxy_config(self) -> Path:
        return self.run / "kube-proxy.yaml"

    @property
    def corefile(self) -> Path:
        return self.run / "Corefile"

    @property
    def resolv_conf(self) -> Path:
        return self.run / "resolv.conf"

    def bind_source(self, target: str) -> Path:
        """The directory under the root that is mounted on `target` inside the node."""
        return self.root / "binds" / target.strip("/").replace("/", "_")

    def binds(self) -> list[tuple[Path, str]]:
        return [(self.bind_source(target), target) for target in HARD_CODED_PATHS]


def containerd_config(layout: NodeLayout, sandbox_image: str) -> str:
    """containerd 2 configuration (version 3): CRI with runc on cgroupfs, never pulling.

    `restrict_oom_score_adj`: these machines lack CAP_SYS_RESOURCE, and without it runc fails
    every sandbox writing `oom_score_adj` (node-notes). runc keeps its state under the root.
    """
    runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return "\n".join(
        [
            "version = 3",
            'root = "/var/lib/containerd"',
            'state = "/run/containerd"',
            "[grpc]",
            f'  address = "{layout.containerd_socket}"',
            f"[{runtime}]",
            "  restrict_oom_score_adj = true",
            "  enable_selinux = false",
            f"[{runtime}.containerd]",
            '  default_runtime_name = "runc"',
            f"[{runtime}.containerd.runtimes.runc]",
            '  runtime_type = "io.containerd.runc.v2"',
            f"[{runtime}.containerd.runtimes.runc.options]",
            f'  BinaryName = "{RUNC}"',
            f'  Root = "{layout.runc_root}"',
            "  SystemdCgroup = false",
            f"[{runtime}.cni]",
            f'  bin_dirs = ["{CNI_BIN_DIR}"]',
            '  conf_dir = "/etc/cni/net.d"',
            "[plugins.'io.containerd.cri.v1.images']",
            '  snapshotter = "overlayfs"',
            "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
            f'  sandbox = "{sandbox_image}"',
            "[plugins.'io.containerd.grpc.v1.cri']",
            "  disable_tcp_service = true",
            '  stream_server_address = "127.0.0.1"',
            "",
        ]
    )


def cni_conflist() -> dict[str, Any]:
    """The bridge network: host-local addresses from the pod CIDR, the bridge as gateway."""
    return {
        "cniVersion": "1.0.0",
        "name": "harness-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(
    layout: NodeLayout, ca_file: Path, serving_cert: Path, serving_key: Path
) -> dict[str, Any]:
    """KubeletConfiguration: cgroupfs on cgroup v1, nothing evicted or garbage-collected.

    The node is a test machine sharing its disk with everything else: eviction and image
    garbage collection would remove the images imported before the pods started (there is no
    registry to pull them again).
    """
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "failCgroupV1": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "podLogsDir": "/var/log/pods",
        "volumePluginDir": str(layout.root / "volume-plugins"),
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [NODE_IP],
        "resolvConf": str(layout.resolv_conf),
        "tlsCertFile": str(serving_cert),
        "tlsPrivateKeyFile": str(serving_key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(ca_file)},
        },
        "authorization": {"mode": "Webhook"},
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "imageMinimumGCAge": "87600h",
        "serializeImagePulls": False,
        "registerNode": True,
        "nodeStatusReportFrequency": "10s",
    }


def kube_proxy_config(kubeconfig: Path) -> dict[str, Any]:
    """kube-proxy in iptables mode; it leaves the kernel-wide conntrack limit alone."""
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "conntrack": {"maxPerCore": 0},
    }


def corefile(kubeconfig: Path) -> str:
    """CoreDNS answering for the cluster domain only: no upstream, nothing forwarded."""
    return (
        f"{CLUSTER_DOMAIN}:53 in-addr.arpa:53 ip6.arpa:53 {{\n"
        f"    bind {NODE_IP}\n"
        "    errors\n"
        "    health 127.0.0.1:8081\n"
        "    ready 127.0.0.1:8181\n"
        f"    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{\n"
        f"        kubeconfig {kubeconfig}\n"
        "        pods insecure\n"
        "        fallthrough in-addr.arpa ip6.arpa\n"
        "    }\n"
        "    cache 5\n"
        "}\n"
        ".:53 {\n"
        f"    bind {NODE_IP}\n"
        "    errors\n"
        "}\n"
    )


def resolv_conf() -> str:
    """Host resolver settings the kubelet hands to pods: none (no upstream DNS exists)."""
    return "options ndots:5\n"


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
