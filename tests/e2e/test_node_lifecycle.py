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
from support.e2e import HEALTHY, apply_document, get_json, psql, streaming_names, wait_until

from cnpg_wal_replica import metadata
from cnpg_wal_replica.specs import names

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

PLUGIN = metadata.PLUGIN_NAME


@dataclass
class Lifecycle:
    namespace: str = "e2e-lifecycle"
    name: str = "life"

    @property
    def receiver(self) -> str:
        return names.receiver_name(self.name)


LONG = Lifecycle(name="a-cluster-with-the-longest-name-cnpg-admits-50-chr")
assert len(LONG.name) == 50
SLOTS = "select slot_name from pg_replication_slots"


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


def launch(node: kubenode.Node) -> None:
    """The Cluster starts with an invalid parameter, the long-named one with a valid one
    (see the e2e conftest)."""
    life = Lifecycle()
    apply_document(node, life.namespace, json.loads(cluster_manifest(life, "lots")))
    apply_document(node, LONG.namespace, json.loads(cluster_manifest(LONG, "1Gi")))


@pytest.fixture(scope="module")
def life(kube_node: kubenode.Node) -> Iterator[Lifecycle]:
    life = Lifecycle()
    launch(kube_node)
    yield life
    kube_node.kubectl("delete", "namespace", life.namespace, "--wait=false", check=False)


def test_an_invalid_parameter_shows_in_the_phase_and_an_event_and_makes_nothing(
    kube_node: kubenode.Node, life: Lifecycle
) -> None:
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
        if status.get("phase") != HEALTHY:
            return False
        sql = "select application_name from pg_stat_replication where state = 'streaming'"
        return life.receiver in psql(kube_node, life.namespace, status["currentPrimary"], sql)

    wait_until(kube_node, streaming, 300, "healthy Cluster with the receiver streaming")


def remove_plugin(node: kubenode.Node, life: Lifecycle) -> str:
    """Remove the plugin from the Cluster; returns the primary that holds the slot."""
    primary = get_json(node, "cluster", "-n", life.namespace, life.name)["status"]["currentPrimary"]
    assert "wal_replica" in psql(node, life.namespace, primary, SLOTS)
    patch = '[{"op": "remove", "path": "/spec/plugins"}]'
    node.kubectl("patch", "cluster", "-n", life.namespace, life.name, "--type=json", "-p", patch)
    return str(primary)


def check_removed(node: kubenode.Node, life: Lifecycle, primary: str) -> None:
    """The drop-slot Job ran as a pod, the slot is gone, the Deployment deleted, the PVC kept."""

    def cleaned_up() -> bool:
        return not get_json(node, "deployment", "-n", life.namespace, life.receiver)

    # The janitor notices within its interval (60 s), runs the Job, then deletes.
    wait_until(node, cleaned_up, 240, f"{life.receiver} Deployment deleted by the janitor")
    job_name = names.drop_slot_job_name(life.name)

    def slot_dropped() -> bool:
        # The Job is started before the Deployment is deleted and may still be retrying
        # while the receiver's last connection holds the slot.
        job = get_json(node, "job", "-n", life.namespace, job_name)
        return job.get("status", {}).get("succeeded") == 1

    wait_until(node, slot_dropped, 180, f"the drop-slot Job {job_name} to succeed")
    pods = get_json(
        node, "pods", "-n", life.namespace, "-l", f"batch.kubernetes.io/job-name={job_name}"
    )
    phases = [p["status"].get("phase") for p in pods["items"]]
    assert "Succeeded" in phases, phases  # it really ran as a pod
    assert "wal_replica" not in psql(node, life.namespace, primary, SLOTS)
    pvc = get_json(node, "pvc", "-n", life.namespace, life.receiver)
    assert pvc, "the receiver's volume must be kept"
    assert pvc["metadata"]["labels"].get(metadata.LABEL_KEPT) == "true", pvc["metadata"]


def test_removing_the_plugin_drops_the_slot_deletes_the_receiver_and_keeps_the_volume(
    kube_node: kubenode.Node, life: Lifecycle
) -> None:
    """Also for a Cluster with the longest name CNPG admits (50 characters), at the same
    time: its generated names and labels must fit, and neither may hold up the other."""
    wait_until(
        kube_node,
        lambda: LONG.receiver in streaming_names(kube_node, LONG.namespace, f"{LONG.name}-1"),
        300,
        f"the receiver of the {len(LONG.name)}-character Cluster streaming",
    )
    primaries = {
        life.name: remove_plugin(kube_node, life),
        LONG.name: remove_plugin(kube_node, LONG),
    }
    check_removed(kube_node, life, primaries[life.name])
    check_removed(kube_node, LONG, primaries[LONG.name])
