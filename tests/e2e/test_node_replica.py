"""A CNPG replica cluster with the plugin: its receiver streams from a standby (cascading).

The source is a 2-instance Cluster; the replica cluster (`spec.replica.enabled`, bootstrapped
with `pg_basebackup` from the source) has one instance, its designated primary, which is a
standby. The replica cluster's receiver streams from that standby through its own `-rw`
Service, follows it when the *source* switches over (a new timeline that arrives by
cascading replication), and `verify` passes on its volume. Tests run in file order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support import kubenode
from support.e2e import (
    apply_document,
    healthy_primary,
    metric,
    psql,
    receiver_pod,
    scrape,
    streaming_names,
    streaming_source,
    switch_and_verify,
    wait_until,
)

from cnpg_wal_replica.metadata import PLUGIN_NAME, RECEIVER_HTTP_PORT
from cnpg_wal_replica.specs.names import receiver_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

NAMESPACE = "e2e-replica"
SOURCE = "src"
REPLICA = "rep"
WAL_DIRECTORY = "/var/lib/postgresql/wal"


def source_cluster() -> dict[str, Any]:
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": SOURCE},
        "spec": {"instances": 2, "storage": {"size": "1Gi"}},
    }


def replica_cluster() -> dict[str, Any]:
    """As CNPG documents a replica cluster fed by streaming, with the plugin enabled."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": REPLICA},
        "spec": {
            "instances": 1,
            "storage": {"size": "1Gi"},
            "bootstrap": {"pg_basebackup": {"source": SOURCE}},
            "replica": {"enabled": True, "source": SOURCE},
            "externalClusters": [streaming_source(SOURCE, f"{SOURCE}-rw", SOURCE)],
            "plugins": [{"name": PLUGIN_NAME}],
        },
    }


def launch(node: kubenode.Node) -> None:
    """Apply the source now, and the replica cluster as soon as the source is healthy (a
    `pg_basebackup` bootstrap needs a source to copy), without holding up the other tests."""
    apply_document(node, NAMESPACE, source_cluster())

    def then_replica() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not healthy_primary(node, NAMESPACE, SOURCE, 2):
            time.sleep(2)
        apply_document(node, NAMESPACE, replica_cluster())

    threading.Thread(target=then_replica, name="e2e-replica-launch", daemon=True).start()


@dataclass
class Replica:
    namespace: str
    name: str
    designated_primary: str


@pytest.fixture(scope="module")
def replica(kube_node: kubenode.Node) -> Iterator[Replica]:
    wait_until(
        kube_node, lambda: healthy_primary(kube_node, NAMESPACE, SOURCE, 2), 600, "source healthy"
    )
    apply_document(kube_node, NAMESPACE, replica_cluster())  # a no-op once launch applied it
    designated = wait_until(
        kube_node,
        lambda: healthy_primary(kube_node, NAMESPACE, REPLICA, 1),
        600,
        "the replica cluster healthy",
    )
    yield Replica(NAMESPACE, REPLICA, designated)
    kube_node.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_receiver_streams_from_the_designated_primary_a_standby(
    kube_node: kubenode.Node, replica: Replica
) -> None:
    in_recovery = psql(
        kube_node, NAMESPACE, replica.designated_primary, "select pg_is_in_recovery()"
    )
    assert in_recovery.strip() == "t"
    wait_until(
        kube_node,
        lambda: (
            receiver_name(REPLICA)
            in streaming_names(kube_node, NAMESPACE, replica.designated_primary)
        ),
        300,
        "the replica cluster's receiver streaming from its designated primary",
    )
    slots = "select slot_name from pg_replication_slots where slot_type = 'physical'"
    assert "wal_replica" in psql(kube_node, NAMESPACE, replica.designated_primary, slots).split()
    pod = receiver_pod(kube_node, replica)
    samples = scrape(kube_node, NAMESPACE, pod, RECEIVER_HTTP_PORT)
    assert metric(samples, "cnpg_wal_replica_receiver_connected") == 1
    # The receiver's slot exists on the standby only, never on the source.
    source = healthy_primary(kube_node, NAMESPACE, SOURCE, 2)
    assert source
    assert "wal_replica" not in psql(kube_node, NAMESPACE, source, slots).split()


def test_a_switchover_of_the_source_reaches_the_receiver_as_a_new_timeline(
    kube_node: kubenode.Node, replica: Replica
) -> None:
    old = healthy_primary(kube_node, NAMESPACE, SOURCE, 2)
    assert old
    target = next(f"{SOURCE}-{i}" for i in (1, 2) if f"{SOURCE}-{i}" != old)
    pod = receiver_pod(kube_node, replica)
    timeline_before = metric(
        scrape(kube_node, NAMESPACE, pod, RECEIVER_HTTP_PORT), "cnpg_wal_replica_receiver_timeline"
    )
    kube_node.kubectl_cnpg("promote", SOURCE, target, "-n", NAMESPACE)
    started = time.monotonic()

    def writable() -> str | None:
        primary = healthy_primary(kube_node, NAMESPACE, SOURCE, 2)
        if primary != target:
            return None
        sql = "select not pg_is_in_recovery()"
        return (
            primary
            if psql(kube_node, NAMESPACE, primary, sql, check=False).strip() == "t"
            else None
        )

    new_primary = wait_until(kube_node, writable, 300, f"{target} the source's primary")

    def on_new_timeline() -> float | None:
        samples = scrape(kube_node, NAMESPACE, receiver_pod(kube_node, replica), RECEIVER_HTTP_PORT)
        timeline = metric(samples, "cnpg_wal_replica_receiver_timeline")
        connected = metric(samples, "cnpg_wal_replica_receiver_connected")
        return timeline if timeline > timeline_before and connected == 1 else None

    timeline = wait_until(kube_node, on_new_timeline, 300, "the receiver on the new timeline")
    print(
        f"e2e: replica cluster: receiver on timeline {timeline:.0f} "
        f"{time.monotonic() - started:.1f} s after the source's switchover began"
    )
    pod = receiver_pod(kube_node, replica)
    switched, report = switch_and_verify(kube_node, NAMESPACE, new_primary, pod, WAL_DIRECTORY)
    assert report["whole"] is True, report
    assert int(switched[:8], 16) == int(timeline), switched
    assert int(timeline) in [t["timeline"] for t in report["timelines"]], report
    assert report["counts"]["histories"] >= int(timeline) - 1, report
