"""The node runs what a user runs: a 3-instance CNPG Cluster with the plugin, from examples/.

The operator and PostgreSQL pods are made by the real CNPG operator from the local images;
the receiver pod is created by our plugin (a pod from our image) and streams from the primary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from support import harnesspaths, kubenode

from cnpg_wal_replica.specs import labels

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLE = harnesspaths.REPO_ROOT / "examples" / "cluster-minimal.yaml"


def wait_until(node: kubenode.Node, check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy; fail with what was last seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        node.check_alive()
        last = check()
        if last:
            return last
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")


def receiver_selector(cluster: str) -> str:
    selector = labels.selector_labels(cluster)
    return ",".join(f"{key}={value}" for key, value in selector.items())


def get_json(node: kubenode.Node, *args: str) -> dict[str, Any]:
    result = node.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def psql(node: kubenode.Node, namespace: str, pod: str, sql: str) -> str:
    return node.kubectl(
        "exec",
        "-n",
        namespace,
        pod,
        "-c",
        "postgres",
        "--",
        "psql",
        "-XAtq",
        "-d",
        "postgres",
        "-c",
        sql,
    ).stdout


def test_minimal_cluster_with_plugin_is_healthy_and_streams(
    kube_node: kubenode.Node, e2e_namespace: str
) -> None:
    cluster = yaml.safe_load(EXAMPLE.read_text())
    name = cluster["metadata"]["name"]
    started = time.monotonic()
    kube_node.kubectl("apply", "-n", e2e_namespace, "-f", str(EXAMPLE))

    def healthy() -> dict[str, Any] | None:
        status = get_json(kube_node, "cluster", "-n", e2e_namespace, name).get("status", {})
        if status.get("phase") == "Cluster in healthy state" and status.get("readyInstances") == 3:
            return status
        return None

    status = wait_until(kube_node, healthy, 600, f"Cluster {name} healthy with 3 ready instances")
    healthy_at = time.monotonic()
    primary = status["currentPrimary"]

    def streaming() -> list[str] | None:
        rows = psql(
            kube_node,
            e2e_namespace,
            primary,
            "select application_name from pg_stat_replication where state = 'streaming'",
        )
        names = sorted(rows.split())
        return names if f"{name}-wal-receiver" in names and len(names) >= 3 else None

    names = wait_until(kube_node, streaming, 300, "two replicas and the receiver streaming")
    receiver_streaming_at = time.monotonic()
    replicas = [n for n in names if n != f"{name}-wal-receiver"]
    assert len(replicas) == 2, names
    assert all(r.startswith(f"{name}-") for r in replicas), names

    pods = get_json(kube_node, "pods", "-n", e2e_namespace, "-l", receiver_selector(name))
    receiver_images = {c["image"] for p in pods.get("items", []) for c in p["spec"]["containers"]}
    assert receiver_images == {kube_node.image_refs["cnpg-wal-replica"]}, receiver_images

    cnpg_status = kube_node.kubectl_cnpg("status", name, "-n", e2e_namespace).stdout
    assert name in cnpg_status, cnpg_status
    assert "Cluster in healthy state" in cnpg_status, cnpg_status
    print(
        f"cluster healthy after {healthy_at - started:.0f} s; receiver streaming "
        f"{receiver_streaming_at - healthy_at:.1f} s after healthy"
    )
