"""The receiver follows the primary: restarts, a failover and a switchover under write load.

One 3-instance Cluster, tests in file order. After each event the receiver must stream from
the (new) primary, and at the end `verify` on its volume must find every timeline with its
history file and no gap.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator

import pytest
from support import harnesspaths, kubenode
from support.e2e import get_json, psql, receiver_pod, switch_and_verify, wait_until

from cnpg_wal_replica import metadata

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

PLUGIN = metadata.PLUGIN_NAME
WAL_DIRECTORY = "/var/lib/postgresql/wal"


class Failover:
    namespace = "e2e-failover"
    name = "fo"
    receiver = "fo-wal-receiver"


def other_instance(than: str) -> str:
    return next(p for p in (f"{Failover.name}-{i}" for i in (1, 2, 3)) if p != than)


def current_primary(node: kubenode.Node) -> str:
    status = get_json(node, "cluster", "-n", Failover.namespace, Failover.name).get("status", {})
    return str(status.get("currentPrimary", ""))


def receiver_streams_from(node: kubenode.Node, primary: str) -> bool:
    sql = (
        "select count(*) from pg_stat_replication "
        f"where application_name = '{Failover.receiver}' and state = 'streaming'"
    )
    return psql(node, Failover.namespace, primary, sql, check=False).strip() == "1"


def wait_for_new_primary(node: kubenode.Node, old: str) -> tuple[str, float]:
    """The new primary once it accepts writes, and when it did (monotonic seconds)."""

    def writable() -> str | None:
        primary = current_primary(node)
        if not primary or primary == old:
            return None
        sql = "select not pg_is_in_recovery()"
        writes = psql(node, Failover.namespace, primary, sql, check=False).strip() == "t"
        return primary if writes else None

    primary = wait_until(node, writable, 300, f"a writable primary other than {old}")
    return primary, time.monotonic()


@pytest.fixture(scope="module")
def load(kube_node: kubenode.Node) -> Iterator[subprocess.Popen[bytes]]:
    """The Cluster, healthy with its receiver streaming, and pgbench writing through -rw."""
    kube_node.kubectl("create", "namespace", Failover.namespace)
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": Failover.name},
        "spec": {"instances": 3, "storage": {"size": "1Gi"}, "plugins": [{"name": PLUGIN}]},
    }
    kube_node.kubectl("apply", "-n", Failover.namespace, "-f", "-", input=json.dumps(cluster))
    wait_until(
        kube_node,
        lambda: (p := current_primary(kube_node)) and receiver_streams_from(kube_node, p),
        600,
        "the Cluster with its receiver streaming",
    )
    secret = get_json(kube_node, "secret", "-n", Failover.namespace, f"{Failover.name}-app")
    password = base64.b64decode(secret["data"]["password"]).decode()
    # pgbench runs in a replica's pod and writes through the -rw Service, so it follows
    # the primary; it reconnects (a new run) whenever a failover cuts it off. Runs are short:
    # an in-place restart is a smart shutdown, which waits for every session to end.
    client = other_instance(current_primary(kube_node))
    script = (
        f"export PGPASSWORD='{password}' PGHOST={Failover.name}-rw PGUSER=app PGDATABASE=app; "
        "pgbench -i -s 1 -q >/dev/null 2>&1; "
        "while true; do pgbench -c 2 -T 15 -n >/dev/null 2>&1; sleep 1; done"
    )
    argv = [
        str(harnesspaths.node_binaries().kubectl),
        f"--kubeconfig={kube_node.kubeconfig}",
        "exec",
        "-n",
        Failover.namespace,
        client,
        "-c",
        "postgres",
        "--",
        "bash",
        "-c",
        script,
    ]
    bench = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(5)
    yield bench
    bench.kill()
    kube_node.kubectl("delete", "namespace", Failover.namespace, "--wait=false", check=False)


def test_primary_restart_and_receiver_restart_resume_streaming(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    primary = current_primary(kube_node)
    kube_node.kubectl_cnpg("restart", Failover.name, primary, "-n", Failover.namespace)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, current_primary(kube_node)),
        300,
        "streaming again after the primary's restart",
    )
    kube_node.kubectl("delete", "pod", "-n", Failover.namespace, receiver_pod(kube_node, Failover))
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, current_primary(kube_node)),
        300,
        "streaming again after the receiver pod was deleted",
    )


def test_failover_the_receiver_follows_the_new_primary(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    old = current_primary(kube_node)
    kube_node.kubectl("delete", "pod", "-n", Failover.namespace, old, "--wait=false")
    primary, writable_at = wait_for_new_primary(kube_node, old)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, primary),
        300,
        f"the receiver streaming from {primary}",
    )
    print(
        f"e2e: failover: receiver streaming {time.monotonic() - writable_at:.1f} s "
        "after the new primary accepted writes (upper bound: 2 s polling)"
    )
    assert "wal_replica" in psql(
        kube_node, Failover.namespace, primary, "select slot_name from pg_replication_slots"
    )


def test_switchover_the_receiver_follows_and_verify_finds_every_timeline(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    wait_until(
        kube_node,
        lambda: (
            get_json(kube_node, "cluster", "-n", Failover.namespace, Failover.name)
            .get("status", {})
            .get("phase")
            == "Cluster in healthy state"
        ),
        300,
        "the Cluster healthy again after the failover",
    )
    old = current_primary(kube_node)
    target = other_instance(old)
    kube_node.kubectl_cnpg("promote", Failover.name, target, "-n", Failover.namespace)
    primary, writable_at = wait_for_new_primary(kube_node, old)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, primary),
        300,
        f"the receiver streaming from {primary}",
    )
    print(
        f"e2e: switchover: receiver streaming {time.monotonic() - writable_at:.1f} s "
        "after the new primary accepted writes (upper bound: 2 s polling)"
    )
    pod = receiver_pod(kube_node, Failover)
    switched, report = switch_and_verify(kube_node, Failover.namespace, primary, pod, WAL_DIRECTORY)
    timeline = int(switched[:8], 16)
    assert report["whole"] is True, report
    timelines = [t["timeline"] for t in report["timelines"]]
    assert timeline >= 3, switched  # a failover and a switchover
    assert timeline in timelines, report
    assert report["counts"]["histories"] >= timeline - 1, report
