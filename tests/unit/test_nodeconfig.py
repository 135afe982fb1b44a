"""The e2e node's configuration files, checked without starting anything."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

from support import nodeconfig
from support.nodeconfig import NodeLayout

LAYOUT = NodeLayout(Path("/var/lib/test-node"))


def test_containerd_config_is_cri_on_runc_cgroupfs_with_the_local_sandbox() -> None:
    config = tomllib.loads(nodeconfig.containerd_config(LAYOUT, "localhost/pause:abc"))
    assert config["version"] == 3
    runtime = config["plugins"]["io.containerd.cri.v1.runtime"]
    assert runtime["restrict_oom_score_adj"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False
    assert runc["options"]["Root"].startswith(str(LAYOUT.root))
    assert runtime["cni"]["bin_dirs"] == [nodeconfig.CNI_BIN_DIR]
    images = config["plugins"]["io.containerd.cri.v1.images"]
    assert images["pinned_images"]["sandbox"] == "localhost/pause:abc"


def test_every_hard_coded_path_is_a_bind_of_a_directory_under_the_root() -> None:
    binds = LAYOUT.binds()
    sources = [source for source, _ in binds]
    assert len(set(sources)) == len(sources) == len(nodeconfig.HARD_CODED_PATHS)
    assert all(source.is_relative_to(LAYOUT.root) for source in sources)
    assert {target for _, target in binds} >= {"/var/lib/kubelet", "/run/containerd"}


def test_pods_get_addresses_on_the_bridge_whose_gateway_is_the_node() -> None:
    conflist = nodeconfig.cni_conflist()
    bridge = conflist["plugins"][0]
    assert bridge["type"] == "bridge"
    assert bridge["bridge"] == nodeconfig.BRIDGE
    (subnet,) = bridge["ipam"]["ranges"][0]
    assert subnet["gateway"] == nodeconfig.NODE_IP
    pods = ipaddress.ip_network(subnet["subnet"])
    assert ipaddress.ip_address(nodeconfig.NODE_IP) in pods
    services = ipaddress.ip_network(nodeconfig.SERVICE_CIDR)
    assert not pods.overlaps(services)


def test_kubelet_never_evicts_or_collects_the_imported_images() -> None:
    config = nodeconfig.kubelet_config(LAYOUT, Path("ca"), Path("crt"), Path("key"))
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["clusterDNS"] == [nodeconfig.NODE_IP]
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert config["readOnlyPort"] == 0


def test_cluster_dns_serves_only_the_cluster_domain() -> None:
    corefile = nodeconfig.corefile(Path("/k"))
    assert f"bind {nodeconfig.NODE_IP}" in corefile
    assert "kubernetes cluster.local" in corefile
    assert "forward" not in corefile  # no upstream: nothing leaves the node


def test_kube_proxy_leaves_the_kernel_conntrack_limit_alone() -> None:
    config = nodeconfig.kube_proxy_config(Path("/k"))
    assert config["mode"] == "iptables"
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["clusterCIDR"] == nodeconfig.POD_CIDR
