"""The kit's PodMonitors select the pods the product really makes, on the ports and paths
they really serve: the receiver's from the spec builders, the plugin server's from deploy/
(rendered by kustomize, as `kubectl apply -k` sends it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.clusters import cluster_document
from support.kustomize import Doc, render, require_kubectl
from support.monitoring import MONITORING, ROOT, kit_documents, one

from cnpg_wal_replica import config, specs
from cnpg_wal_replica import metadata as md
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.receiver.health import respond
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.state import ReceiverState


@pytest.fixture(scope="module", autouse=True)
def _kustomize() -> None:
    """deploy/ and monitoring/ are rendered with the real kustomize (kubectl's)."""
    require_kubectl()


def receiver_pod(cluster: str, namespace: str = "app") -> dict[str, Any]:
    view = ClusterView.from_dict(cluster_document(cluster, namespace=namespace))
    (deployment,) = [
        o
        for o in specs.desired_objects(view, config.parse(view, "r:1"))
        if o["kind"] == "Deployment"
    ]
    return dict(deployment["spec"]["template"])


def plugin_pod() -> dict[str, Any]:
    return dict(one(render(ROOT / "deploy"), "Deployment")["spec"]["template"])


def endpoint(monitor: Doc) -> dict[str, Any]:
    (only,) = monitor["spec"]["podMetricsEndpoints"]
    return dict(only)


def selects(monitor: Doc, pod: dict[str, Any]) -> bool:
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    return bool(wanted <= pod["metadata"]["labels"].items())


def container_ports(pod: dict[str, Any]) -> dict[str, int]:
    (container,) = pod["spec"]["containers"]
    return {p["name"]: p["containerPort"] for p in container["ports"]}


def prometheus_label(kubernetes_label: str) -> str:
    """How Prometheus's Kubernetes discovery names a pod label."""
    return "__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", kubernetes_label)


def test_the_receivers_monitor_selects_every_clusters_receiver_in_every_namespace() -> None:
    monitor = one(kit_documents(), "PodMonitor", "cnpg-wal-replica-receivers")
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    for cluster, namespace in (("pg", "app"), ("other", "prod")):
        assert selects(monitor, receiver_pod(cluster, namespace)), cluster
    assert not selects(monitor, plugin_pod())


def test_the_receivers_monitor_scrapes_the_metrics_port_and_path() -> None:
    monitor = one(kit_documents(), "PodMonitor", "cnpg-wal-replica-receivers")
    scrape = endpoint(monitor)
    assert container_ports(receiver_pod("pg"))[scrape["port"]] == md.RECEIVER_HTTP_PORT
    metrics = ReceiverMetrics()
    status, _, body = respond(scrape["path"], ReceiverState(0, 0), metrics, 0)
    assert status == 200
    assert b"cnpg_wal_replica_receiver_ready" in body


def test_the_cluster_label_comes_from_the_receiver_pods_cluster_label() -> None:
    monitor = one(kit_documents(), "PodMonitor", "cnpg-wal-replica-receivers")
    (relabel,) = [r for r in endpoint(monitor)["relabelings"] if r["targetLabel"] == "cluster"]
    (source,) = relabel["sourceLabels"]
    labels = receiver_pod("mycluster")["metadata"]["labels"]
    (key,) = [k for k in labels if prometheus_label(k) == source]
    assert labels[key] == "mycluster"


def test_the_plugin_monitor_selects_deploys_pods_on_their_metrics_port() -> None:
    monitor = one(kit_documents(), "PodMonitor", "cnpg-wal-replica-plugin-server")
    pod = plugin_pod()
    assert selects(monitor, pod)
    assert not selects(monitor, receiver_pod("pg"))
    scrape = endpoint(monitor)
    assert scrape["path"] == "/metrics"
    assert scrape["honorLabels"] is True, "its per-Cluster series name the Cluster's namespace"
    (container,) = pod["spec"]["containers"]
    (flag,) = [a for a in container["args"] if a.startswith("--metrics-address=")]
    assert container_ports(pod)[scrape["port"]] == int(flag.rpartition(":")[2])
    policy = one(render(ROOT / "deploy"), "NetworkPolicy")["spec"]
    admitted = {p["port"] for rule in policy["ingress"] for p in rule["ports"]}
    assert container_ports(pod)[scrape["port"]] in admitted


def test_kubectl_apply_k_monitoring_renders_the_kit_in_one_namespace() -> None:
    rendered = render(MONITORING)
    kinds = sorted(d["kind"] for d in rendered)
    assert kinds == ["ConfigMap", "PodMonitor", "PodMonitor", "PrometheusRule"]
    assert {d["metadata"]["namespace"] for d in rendered} == {"cnpg-system"}
    plain = {(d["kind"], d["metadata"]["name"]) for d in kit_documents()}
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == plain
