"""Small helpers the e2e tests share: waiting, reading objects, SQL in an instance pod."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import pytest

from cnpg_wal_replica.specs import labels
from support import kubenode

HEALTHY = "Cluster in healthy state"
"""The phase CNPG reports for a Cluster with every instance ready and nothing to do."""


class NamedCluster(Protocol):
    namespace: str
    name: str


def wait_until(node: kubenode.Node, check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` every 2 s until it returns something truthy; fail with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        node.check_alive()
        last = check()
        if last:
            return last
        time.sleep(2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")


def get_json(node: kubenode.Node, *args: str) -> dict[str, Any]:
    """`kubectl get ... -o json`, or {} when it does not exist."""
    result = node.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {}


def psql_argv(namespace: str, pod: str, sql: str) -> list[str]:
    """kubectl arguments that run one statement as postgres in an instance pod."""
    return [
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
    ]


def psql(node: kubenode.Node, namespace: str, pod: str, sql: str, check: bool = True) -> str:
    """Run one statement; unaligned, tuples only ("" when it fails and `check` is off)."""
    result = node.kubectl(*psql_argv(namespace, pod, sql), check=check)
    return result.stdout if result.returncode == 0 else ""


def switch_and_verify(
    node: kubenode.Node,
    namespace: str,
    primary: str,
    pod: str,
    directory: str,
    suffix: str = "",
) -> tuple[str, dict[str, Any]]:
    """Switch WAL on the primary, wait for that segment (named with the compression's
    `suffix`) on the receiver's volume, and run `verify --json` there; returns the segment's
    name and the report (exit status 0)."""
    # pg_switch_wal() does nothing when no WAL was written since the last switch, and then
    # names the segment that switch completed: one that may predate a compression change, so
    # its `.gz` never comes (the intermittent failure of the compression test). A logical
    # message first makes every call complete a new segment.
    sql = (
        "with written as (select pg_logical_emit_message(false, 'cnpg-wal-replica-e2e', 'switch'))"
        " select pg_walfile_name(pg_switch_wal()) from written"
    )
    switched = psql(node, namespace, primary, sql).strip()

    def archived() -> bool:
        listing = node.kubectl("exec", "-n", namespace, pod, "--", "ls", directory)
        return switched + suffix in listing.stdout.split()

    wait_until(node, archived, 120, f"segment {switched} complete on the receiver's volume")
    verify = ["cnpg-wal-replica", "verify", "--json", directory]
    result = node.kubectl("exec", "-n", namespace, pod, "--", *verify, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return switched, dict(json.loads(result.stdout))


def receiver_selector(cluster: str) -> str:
    selector = labels.selector_labels(cluster)
    return ",".join(f"{key}={value}" for key, value in selector.items())


def receiver_pod(node: kubenode.Node, cluster: NamedCluster) -> str:
    """Name of the Cluster's (single) running receiver pod."""
    pods = get_json(node, "pods", "-n", cluster.namespace, "-l", receiver_selector(cluster.name))
    running = [p for p in pods.get("items", []) if p["status"].get("phase") == "Running"]
    assert len(running) == 1, [p["metadata"]["name"] for p in pods.get("items", [])]
    return str(running[0]["metadata"]["name"])


def ensure_namespace(node: kubenode.Node, name: str) -> None:
    """Create the namespace unless it exists (idempotent, unlike `kubectl create`)."""
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    node.kubectl("apply", "-f", "-", input=json.dumps(manifest))


def apply_document(node: kubenode.Node, namespace: str, document: dict[str, Any]) -> None:
    """`kubectl apply` one object given as data into a namespace it creates when missing."""
    ensure_namespace(node, namespace)
    node.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(document))


def cluster_status(node: kubenode.Node, namespace: str, name: str) -> dict[str, Any]:
    return dict(get_json(node, "cluster", "-n", namespace, name).get("status", {}))


def healthy_primary(node: kubenode.Node, namespace: str, name: str, ready: int) -> str | None:
    """The current primary once the Cluster is healthy with `ready` instances, else None."""
    status = cluster_status(node, namespace, name)
    if status.get("phase") == HEALTHY and status.get("readyInstances") == ready:
        return str(status["currentPrimary"])
    return None


def streaming_names(node: kubenode.Node, namespace: str, pod: str) -> list[str]:
    """application_name of every walsender in state `streaming` on that instance."""
    sql = "select application_name from pg_stat_replication where state = 'streaming'"
    return sorted(psql(node, namespace, pod, sql, check=False).split())


def scrape(node: kubenode.Node, namespace: str, pod: str, port: int) -> dict[str, float]:
    """A pod's Prometheus `/metrics`, fetched in the cluster through the API server's pod
    proxy, as {sample with labels: value}."""
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/metrics"
    text = node.kubectl("get", "--raw", path).stdout
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            sample, _, value = line.rpartition(" ")
            samples[sample] = float(value)
    return samples


def metric(samples: dict[str, float], name: str) -> float:
    """The value of an unlabelled sample; fails naming what the scrape had instead."""
    assert name in samples, sorted(s for s in samples if s.startswith(name.rsplit("_", 1)[0]))
    return samples[name]


def streaming_source(entry: str, host: str, cluster: str) -> dict[str, Any]:
    """An externalClusters entry that connects as `streaming_replica` with the Cluster's
    replication Secrets (`<cluster>-replication`, `<cluster>-ca`), as CNPG documents."""
    return {
        "name": entry,
        "connectionParameters": {
            "host": host,
            "user": "streaming_replica",
            "sslmode": "verify-full",
            "dbname": "postgres",
        },
        "sslKey": {"name": f"{cluster}-replication", "key": "tls.key"},
        "sslCert": {"name": f"{cluster}-replication", "key": "tls.crt"},
        "sslRootCert": {"name": f"{cluster}-ca", "key": "ca.crt"},
    }
