"""The node runs what a user runs: a 3-instance CNPG Cluster with the plugin, from examples/.

The operator and PostgreSQL pods are made by the real CNPG operator from the local images;
the receiver pod is created by our plugin (a pod from our image) and streams from the primary.
The tests share one Cluster and run in file order; the last one deletes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from support import harnesspaths, kubenode
from support.e2e import (
    get_json,
    psql,
    receiver_pod,
    receiver_selector,
    switch_and_verify,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLE = harnesspaths.REPO_ROOT / "examples" / "cluster-minimal.yaml"
WAL_DIRECTORY = "/var/lib/postgresql/wal"


@dataclass
class RunningCluster:
    namespace: str
    name: str
    primary: str
    seconds_to_healthy: float
    seconds_healthy_to_streaming: float
    streaming: list[str]


@pytest.fixture(scope="module")
def minimal_cluster(kube_node: kubenode.Node) -> Iterator[RunningCluster]:
    namespace = "e2e-minimal"
    kube_node.kubectl("create", "namespace", namespace)
    name = yaml.safe_load(EXAMPLE.read_text())["metadata"]["name"]
    started = time.monotonic()
    kube_node.kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))

    def healthy() -> dict[str, Any] | None:
        status = get_json(kube_node, "cluster", "-n", namespace, name).get("status", {})
        if status.get("phase") == "Cluster in healthy state" and status.get("readyInstances") == 3:
            return status
        return None

    status = wait_until(kube_node, healthy, 600, f"Cluster {name} healthy with 3 ready instances")
    healthy_at = time.monotonic()
    primary = status["currentPrimary"]

    def streaming() -> list[str] | None:
        sql = "select application_name from pg_stat_replication where state = 'streaming'"
        names = sorted(psql(kube_node, namespace, primary, sql).split())
        return names if f"{name}-wal-receiver" in names and len(names) >= 3 else None

    names = wait_until(kube_node, streaming, 300, "two replicas and the receiver streaming")
    cluster = RunningCluster(
        namespace, name, primary, healthy_at - started, time.monotonic() - healthy_at, names
    )
    print(
        f"e2e: cluster healthy after {cluster.seconds_to_healthy:.0f} s; receiver streaming "
        f"{cluster.seconds_healthy_to_streaming:.1f} s after healthy"
    )
    yield cluster
    kube_node.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_two_replicas_and_the_receiver_stream_from_the_primary(
    minimal_cluster: RunningCluster,
) -> None:
    receiver = f"{minimal_cluster.name}-wal-receiver"
    replicas = [n for n in minimal_cluster.streaming if n != receiver]
    assert receiver in minimal_cluster.streaming
    assert len(replicas) == 2, minimal_cluster.streaming
    assert all(r.startswith(f"{minimal_cluster.name}-") for r in replicas), replicas


def test_the_receiver_pod_runs_our_image_ready_and_not_as_root(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    pods = get_json(
        kube_node,
        "pods",
        "-n",
        minimal_cluster.namespace,
        "-l",
        receiver_selector(minimal_cluster.name),
    )["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    (pod,) = pods
    assert [c["image"] for c in pod["spec"]["containers"]] == [
        kube_node.image_refs["cnpg-wal-replica"]
    ]
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Ready"] == "True", conditions
    uid = kube_node.kubectl(
        "exec", "-n", minimal_cluster.namespace, pod["metadata"]["name"], "--", "id", "-u"
    ).stdout.strip()
    assert uid == "26", uid  # the Cluster's postgresUID


def test_kubectl_cnpg_status_shows_the_healthy_cluster_and_the_plugin(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    status = kube_node.kubectl_cnpg(
        "status", minimal_cluster.name, "-n", minimal_cluster.namespace
    ).stdout
    assert "Cluster in healthy state" in status, status
    assert "cnpg-i-wal-replica.documentdb.io" in status, status


def test_verify_passes_on_the_receivers_volume(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    namespace, pod = minimal_cluster.namespace, receiver_pod(kube_node, minimal_cluster)
    _, report = switch_and_verify(kube_node, namespace, minimal_cluster.primary, pod, WAL_DIRECTORY)
    assert report["whole"] is True, report
    assert report["counts"]["segments"] >= 1, report
    sql = "select system_identifier from pg_control_system()"
    system_id = psql(kube_node, namespace, minimal_cluster.primary, sql).strip()
    assert str(report["system_identifier"]) == system_id, report


def test_deleting_the_cluster_garbage_collects_the_receiver(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    namespace, name = minimal_cluster.namespace, minimal_cluster.name
    receiver = f"{name}-wal-receiver"
    assert get_json(kube_node, "deployment", "-n", namespace, receiver)
    assert get_json(kube_node, "pvc", "-n", namespace, receiver)
    kube_node.kubectl("delete", "cluster", "-n", namespace, name)

    def gone() -> bool:
        return not get_json(kube_node, "deployment", "-n", namespace, receiver) and not get_json(
            kube_node, "pvc", "-n", namespace, receiver
        )

    wait_until(kube_node, gone, 120, f"Deployment and PVC {receiver} garbage-collected")
