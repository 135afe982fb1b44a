"""A Cluster's life with the plugin under the real operator: bad parameters, repair, removal.

One 1-instance Cluster, tests in file order: it starts with an invalid parameter, is repaired,
then the plugin is removed from it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support import kubenode
from support.e2e import get_json, psql, wait_until

from cnpg_wal_replica import metadata

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

PLUGIN = metadata.PLUGIN_NAME


@dataclass
class Lifecycle:
    namespace: str = "e2e-lifecycle"
    name: str = "life"

    @property
    def receiver(self) -> str:
        return f"{self.name}-wal-receiver"


def cluster_manifest(life: Lifecycle, wal_pvc_size: str) -> str:
    return json.dumps(
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": life.name},
            "spec": {
                "instances": 1,
                "storage": {"size": "1Gi"},
                "plugins": [{"name": PLUGIN, "parameters": {"walPVCSize": wal_pvc_size}}],
            },
        }
    )


@pytest.fixture(scope="module")
def life(kube_node: kubenode.Node) -> Iterator[Lifecycle]:
    life = Lifecycle()
    kube_node.kubectl("create", "namespace", life.namespace)
    yield life
    kube_node.kubectl("delete", "namespace", life.namespace, "--wait=false", check=False)


def test_an_invalid_parameter_shows_in_the_phase_and_an_event_and_makes_nothing(
    kube_node: kubenode.Node, life: Lifecycle
) -> None:
    manifest = cluster_manifest(life, "lots")
    kube_node.kubectl("apply", "-n", life.namespace, "-f", "-", input=manifest)

    def refused() -> str | None:
        status = get_json(kube_node, "cluster", "-n", life.namespace, life.name).get("status", {})
        reason = status.get("phaseReason", "")
        return reason if "walPVCSize" in reason else None

    reason = wait_until(kube_node, refused, 180, "the Cluster's phase to name walPVCSize")
    assert "'lots'" in reason, reason
    assert "20Gi" in reason, reason  # a valid example
    events = get_json(
        kube_node, "events", "-n", life.namespace, "--field-selector", "type=Warning"
    )["items"]
    messages = [e["message"] for e in events if e["involvedObject"]["name"] == life.name]
    assert any("walPVCSize='lots'" in m for m in messages), messages
    assert not get_json(kube_node, "deployment", "-n", life.namespace, life.receiver)
    assert not get_json(kube_node, "pvc", "-n", life.namespace, life.receiver)


def test_fixing_the_parameter_recovers_without_manual_steps(
    kube_node: kubenode.Node, life: Lifecycle
) -> None:
    manifest = cluster_manifest(life, "1Gi")
    kube_node.kubectl("apply", "-n", life.namespace, "-f", "-", input=manifest)

    def streaming() -> bool:
        status = get_json(kube_node, "cluster", "-n", life.namespace, life.name).get("status", {})
        if status.get("phase") != "Cluster in healthy state":
            return False
        sql = "select application_name from pg_stat_replication where state = 'streaming'"
        return life.receiver in psql(kube_node, life.namespace, status["currentPrimary"], sql)

    wait_until(kube_node, streaming, 300, "healthy Cluster with the receiver streaming")


def test_removing_the_plugin_drops_the_slot_deletes_the_receiver_and_keeps_the_volume(
    kube_node: kubenode.Node, life: Lifecycle
) -> None:
    primary = get_json(kube_node, "cluster", "-n", life.namespace, life.name)["status"][
        "currentPrimary"
    ]
    slots = "select slot_name from pg_replication_slots"
    assert "wal_replica" in psql(kube_node, life.namespace, primary, slots)
    kube_node.kubectl(
        "patch",
        "cluster",
        "-n",
        life.namespace,
        life.name,
        "--type=json",
        "-p",
        '[{"op": "remove", "path": "/spec/plugins"}]',
    )

    def cleaned_up() -> bool:
        return not get_json(kube_node, "deployment", "-n", life.namespace, life.receiver)

    # The janitor notices within its interval (60 s), runs the Job, then deletes.
    wait_until(kube_node, cleaned_up, 240, "the receiver Deployment deleted by the janitor")

    def slot_dropped() -> bool:
        # The Job is started before the Deployment is deleted and may still be retrying
        # while the receiver's last connection holds the slot.
        job = get_json(kube_node, "job", "-n", life.namespace, f"{life.receiver}-drop-slot")
        return job.get("status", {}).get("succeeded") == 1

    wait_until(kube_node, slot_dropped, 180, "the drop-slot Job to succeed")
    assert "wal_replica" not in psql(kube_node, life.namespace, primary, slots)
    pvc = get_json(kube_node, "pvc", "-n", life.namespace, life.receiver)
    assert pvc, "the receiver's volume must be kept"
    assert pvc["metadata"]["labels"].get(metadata.LABEL_KEPT) == "true", pvc["metadata"]
