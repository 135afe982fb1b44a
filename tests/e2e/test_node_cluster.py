"""The node runs what a user runs: a 3-instance CNPG Cluster with the plugin, from examples/.

The operator and PostgreSQL pods are made by the real CNPG operator from the local images;
the receiver pod is created by our plugin (a pod from our image) and streams from the primary.
The tests share one Cluster and run in file order; the last one deletes it.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from support import harnesspaths, kubenode
from support.e2e import (
    HEALTHY,
    ensure_namespace,
    get_json,
    metric,
    psql,
    receiver_pod,
    receiver_selector,
    scrape,
    streaming_names,
    switch_and_verify,
    wait_until,
)

from cnpg_wal_replica.metadata import PLUGIN_NAME, RECEIVER_ENV_PREFIX, RECEIVER_HTTP_PORT
from cnpg_wal_replica.specs.names import receiver_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLE = harnesspaths.REPO_ROOT / "examples" / "cluster-minimal.yaml"
OBSERVABILITY = harnesspaths.REPO_ROOT / "docs" / "observability.md"
NAMESPACE = "e2e-minimal"
PLUGIN_USER = "system:serviceaccount:cnpg-system:cnpg-wal-replica"
STEADY_SECONDS = 120
WAL_DIRECTORY = "/var/lib/postgresql/wal"
_applied_at: list[float] = []


def launch(node: kubenode.Node) -> None:
    """Apply the example as a user does (see the e2e conftest)."""
    ensure_namespace(node, NAMESPACE)
    node.kubectl("apply", "-n", NAMESPACE, "-f", str(EXAMPLE))
    _applied_at.append(time.monotonic())


def epoch(timestamp: str) -> float:
    """Seconds since the epoch of a Kubernetes RFC 3339 timestamp (whole seconds, UTC)."""
    return (
        datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


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
    namespace = NAMESPACE
    name = yaml.safe_load(EXAMPLE.read_text())["metadata"]["name"]
    launch(kube_node)

    def healthy() -> dict[str, Any] | None:
        status = get_json(kube_node, "cluster", "-n", namespace, name).get("status", {})
        if status.get("phase") == HEALTHY and status.get("readyInstances") == 3:
            return status
        return None

    status = wait_until(kube_node, healthy, 600, f"Cluster {name} healthy with 3 ready instances")
    primary = status["currentPrimary"]

    def streaming() -> list[str] | None:
        names = streaming_names(kube_node, namespace, primary)
        return names if receiver_name(name) in names and len(names) >= 3 else None

    names = wait_until(kube_node, streaming, 300, "two replicas and the receiver streaming")
    # The Cluster was applied before the tests started (see launch), so the times come from
    # the objects themselves: created, Ready condition, and the receiver's walsender start.
    created = get_json(kube_node, "cluster", "-n", namespace, name)["metadata"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    sql = (
        "select extract(epoch from backend_start) from pg_stat_replication "
        f"where application_name = '{receiver_name(name)}'"
    )
    streaming_since = float(psql(kube_node, namespace, primary, sql).strip())
    healthy_at = epoch(ready["lastTransitionTime"])
    cluster = RunningCluster(
        namespace,
        name,
        primary,
        healthy_at - epoch(created["creationTimestamp"]),
        streaming_since - healthy_at,
        names,
    )
    print(
        f"e2e: cluster healthy {cluster.seconds_to_healthy:.0f} s after it was created; "
        f"receiver streaming {cluster.seconds_healthy_to_streaming:.1f} s after healthy "
        "(negative: before)"
    )
    yield cluster
    kube_node.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_two_replicas_and_the_receiver_stream_from_the_primary(
    minimal_cluster: RunningCluster,
) -> None:
    receiver = receiver_name(minimal_cluster.name)
    replicas = [n for n in minimal_cluster.streaming if n != receiver]
    assert receiver in minimal_cluster.streaming
    assert len(replicas) == 2, minimal_cluster.streaming
    assert all(r.startswith(f"{minimal_cluster.name}-") for r in replicas), replicas


def test_the_receiver_pod_runs_our_image_becomes_ready_and_not_as_root(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    selector = receiver_selector(minimal_cluster.name)

    def ready_pods() -> list[dict[str, Any]] | None:
        pods = get_json(kube_node, "pods", "-n", minimal_cluster.namespace, "-l", selector)
        items: list[dict[str, Any]] = pods["items"]
        conditions = [
            {c["type"]: c["status"] for c in p["status"].get("conditions", [])} for p in items
        ]
        return items if any(c.get("Ready") == "True" for c in conditions) else None

    # Streaming shows on the primary before the next readiness probe (every 5 s) has run.
    pods = wait_until(kube_node, ready_pods, 30, "the receiver pod Ready")
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    (pod,) = pods
    assert [c["image"] for c in pod["spec"]["containers"]] == [
        kube_node.image_refs["cnpg-wal-replica"]
    ]
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
    assert HEALTHY in status, status
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


def documented_metrics() -> list[str]:
    """Every metric name in the generated table of docs/observability.md."""
    text = OBSERVABILITY.read_text()
    table = text[text.index("BEGIN GENERATED METRICS") : text.index("END GENERATED METRICS")]
    return re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)


def has_metric(samples: dict[str, float], name: str) -> bool:
    return any(s == name or s.startswith(name + "{") for s in samples)


def test_the_documented_metrics_exist_and_move_while_wal_flows(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    namespace, primary = minimal_cluster.namespace, minimal_cluster.primary
    pod = receiver_pod(kube_node, minimal_cluster)
    before = scrape(kube_node, namespace, pod, RECEIVER_HTTP_PORT)
    assert metric(before, "cnpg_wal_replica_receiver_ready") == 1
    assert metric(before, "cnpg_wal_replica_receiver_connected") == 1

    psql(kube_node, namespace, primary, "create table if not exists e2e_metrics (t text)")
    psql(
        kube_node,
        namespace,
        primary,
        "insert into e2e_metrics select repeat('x', 1000) from generate_series(1, 5000)",
    )
    switch_and_verify(kube_node, namespace, primary, pod, WAL_DIRECTORY)

    def moved() -> dict[str, float] | None:
        after = scrape(kube_node, namespace, pod, RECEIVER_HTTP_PORT)
        grown = all(
            metric(after, n) > metric(before, n)
            for n in (
                "cnpg_wal_replica_receiver_flushed_lsn",
                "cnpg_wal_replica_receiver_received_lsn",
                "cnpg_wal_replica_receiver_primary_current_lsn",
                "cnpg_wal_replica_receiver_segments_on_disk",
                "cnpg_wal_replica_receiver_archive_bytes",
            )
        )
        return after if grown else None

    after = wait_until(kube_node, moved, 60, "the receiver's LSN and archive metrics to grow")
    # Checked once a segment is complete: last_segment_info names the newest complete one,
    # and a receiver that has just started may not have one yet.
    names = documented_metrics()
    assert len(names) >= 20, names
    missing = [n for n in names if not has_metric(after, n)]
    assert not missing, f"documented but not exported by the receiver: {missing}"
    flushed = "cnpg_wal_replica_receiver_flushed_lsn"
    print(f"e2e: metrics: flushed LSN moved by {after[flushed] - before[flushed]:.0f} bytes")


def test_cnpg_exports_the_receivers_lag_on_the_primary(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    receiver = f'application_name="{receiver_name(minimal_cluster.name)}"'

    def lag_samples() -> list[str] | None:
        samples = scrape(kube_node, minimal_cluster.namespace, minimal_cluster.primary, 9187)
        found = [
            s
            for s in samples
            if s.startswith("cnpg_pg_stat_replication_flush_lag_seconds{") and receiver in s
        ]
        return found or None

    # The instance manager refreshes its queries on its own schedule (every 30 s at most).
    found = wait_until(kube_node, lag_samples, 90, f"CNPG's per-standby lag for {receiver}")
    assert len(found) == 1, found


def instance_pods(node: kubenode.Node, cluster: RunningCluster) -> dict[str, tuple[str, int]]:
    """Every PostgreSQL pod of the Cluster: name -> (uid, restarts of its containers)."""
    pods = get_json(node, "pods", "-n", cluster.namespace, "-l", f"cnpg.io/cluster={cluster.name}")
    return {
        p["metadata"]["name"]: (
            p["metadata"]["uid"],
            sum(c.get("restartCount", 0) for c in p["status"].get("containerStatuses", [])),
        )
        for p in pods["items"]
        if "cnpg.io/instanceName" in p["metadata"].get("labels", {})
    }


def receiver_replica_sets(node: kubenode.Node, cluster: RunningCluster) -> set[str]:
    sets = get_json(
        node, "replicasets", "-n", cluster.namespace, "-l", receiver_selector(cluster.name)
    )
    return {r["metadata"]["name"] for r in sets["items"]}


def test_a_parameter_change_rolls_the_receiver_once_and_nothing_else(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    namespace, name = minimal_cluster.namespace, minimal_cluster.name
    receiver = receiver_name(name)
    generation = get_json(kube_node, "deployment", "-n", namespace, receiver)["metadata"][
        "generation"
    ]
    instances, replica_sets = (
        instance_pods(kube_node, minimal_cluster),
        receiver_replica_sets(kube_node, minimal_cluster),
    )
    plugins = {"plugins": [{"name": PLUGIN_NAME, "parameters": {"compression": "gzip"}}]}
    kube_node.kubectl(
        "patch",
        "cluster",
        "-n",
        namespace,
        name,
        "--type=merge",
        "-p",
        json.dumps({"spec": plugins}),
    )

    def rolled() -> dict[str, Any] | None:
        deployment = get_json(kube_node, "deployment", "-n", namespace, receiver)
        status = deployment.get("status", {})
        done = (
            deployment["metadata"]["generation"] > generation
            and status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == status.get("replicas") == 1
            and status.get("readyReplicas") == 1
        )
        return deployment if done else None

    deployment = wait_until(kube_node, rolled, 180, f"{receiver} rolled out with compression")
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env[f"{RECEIVER_ENV_PREFIX}COMPRESSION"] == "gzip", env
    pod = receiver_pod(kube_node, minimal_cluster)
    switched, _ = switch_and_verify(
        kube_node, namespace, minimal_cluster.primary, pod, WAL_DIRECTORY, suffix=".gz"
    )
    # Settled: the Deployment changed once, one new ReplicaSet, no PostgreSQL pod touched.
    assert deployment["metadata"]["generation"] == generation + 1, deployment["metadata"]
    new_sets = receiver_replica_sets(kube_node, minimal_cluster) - replica_sets
    assert len(new_sets) == 1, new_sets
    assert instance_pods(kube_node, minimal_cluster) == instances

    offset = kube_node.plane.audit_offset()
    time.sleep(STEADY_SECONDS)
    writes = [
        f"{w['verb']} {w['objectRef'].get('resource')}/{w['objectRef'].get('name')}"
        for w in kube_node.plane.audit_writes(offset, user=PLUGIN_USER)
        if w.get("objectRef", {}).get("namespace") == namespace
    ]
    print(f"e2e: steady state: {len(writes)} plugin writes in {STEADY_SECONDS} s ({switched})")
    assert writes == [], writes


def test_deleting_the_cluster_keeps_the_receiver_until_the_user_deletes_it(
    kube_node: kubenode.Node, minimal_cluster: RunningCluster
) -> None:
    """The WAL copy outlives its Cluster (it is what recovers one deleted with its volumes);
    docs/deleting-volumes.md's command removes it."""
    namespace, name = minimal_cluster.namespace, minimal_cluster.name
    receiver = receiver_name(name)
    assert get_json(kube_node, "deployment", "-n", namespace, receiver)
    assert get_json(kube_node, "pvc", "-n", namespace, receiver)
    kube_node.kubectl("delete", "cluster", "-n", namespace, name)

    def owned_collected() -> bool:
        # What the Cluster owns goes first: its Services (its pods and their volumes follow,
        # as fast as PostgreSQL shuts down).
        return not get_json(kube_node, "service", "-n", namespace, f"{name}-rw")

    wait_until(kube_node, owned_collected, 120, "the Cluster's own Services collected")
    assert get_json(kube_node, "pvc", "-n", namespace, receiver)
    assert receiver_pod(kube_node, minimal_cluster), "the receiver keeps running"
    kube_node.kubectl(
        "delete", "-n", namespace, "deployment,pvc,service,certificate",
        "-l", f"app.kubernetes.io/name=cnpg-wal-replica,app.kubernetes.io/instance={name}",
    )  # fmt: skip

    def gone() -> bool:
        return not get_json(kube_node, "deployment", "-n", namespace, receiver) and not get_json(
            kube_node, "pvc", "-n", namespace, receiver
        )

    wait_until(kube_node, gone, 120, f"Deployment and PVC {receiver} deleted by the user")
