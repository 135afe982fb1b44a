"""Reconcile decisions on an in-memory API (`support.memory_kube`): no API server.

What Post writes on a first reconcile, in a steady state and after a change; what the
janitor's removal writes and in which order; what is refused, with which error, and that a
refusal writes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.clusters import cluster_document
from support.memory_kube import MemoryKube

from cnpg_wal_replica.errors import ConfigError
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.plugin.janitor import Janitor
from cnpg_wal_replica.reconcile.reconciler import Reconciler

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
NS = "app"
RECEIVER = "pg-wal-receiver"
OBJECTS = [
    ("PersistentVolumeClaim", RECEIVER),
    ("Deployment", RECEIVER),
    ("Certificate", f"{RECEIVER}-server"),
    ("Service", RECEIVER),
]


def cluster(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    return cluster_document("pg", NS, parameters or {}, uid="0b7c4a0e-0000-4000-8000-000000000001")


def body(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def reconciler_on(kube: MemoryKube) -> Reconciler:
    return Reconciler(kube, kube, receiver_image=IMAGE)


async def converged(parameters: dict[str, str] | None = None) -> MemoryKube:
    """A store where a first Post of ``cluster(parameters)`` has run and the claim is
    bound (as a provisioner would); its log emptied."""
    kube = MemoryKube([cluster(parameters)])
    await reconciler_on(kube).post(body(cluster(parameters)))
    kube.objects[("PersistentVolumeClaim", NS, RECEIVER)]["status"] = {"phase": "Bound"}
    kube.writes.clear()
    return kube


def storage(kube: MemoryKube) -> str:
    pvc = kube.find("PersistentVolumeClaim", NS, RECEIVER)
    assert pvc is not None
    return str(pvc["spec"]["resources"]["requests"]["storage"])


async def test_first_post_creates_every_receiver_object_in_order() -> None:
    kube = MemoryKube()
    await reconciler_on(kube).post(body(cluster({"walPVCSize": "2Gi"})))

    assert kube.object_writes() == [
        ("delete", "Job", f"{RECEIVER}-drop-slot"),  # a removal's leftover would drop the slot
        *(("apply", kind, name) for kind, name in OBJECTS),
    ]
    assert kube.events() == [("Normal", "ReceiverCreated")] * len(OBJECTS)
    assert storage(kube) == "2Gi"
    for kind, name in OBJECTS:
        obj = kube.find(kind, NS, name)
        assert obj is not None, kind
        assert "ownerReferences" not in obj["metadata"], kind


async def test_steady_state_writes_nothing_whether_remembered_or_compared() -> None:
    kube = await converged()

    await reconciler_on(kube).post(body(cluster()))  # a fresh server: compares with the store
    remembering = reconciler_on(kube)
    for _ in range(3):
        await remembering.post(body(cluster()))  # the same bytes: the prepared objects

    assert kube.writes == []


async def test_a_parameter_change_patches_exactly_the_deployment() -> None:
    kube = await converged()

    await reconciler_on(kube).post(body(cluster({"verbose": "true"})))

    assert kube.object_writes() == [("apply", "Deployment", RECEIVER)]
    assert kube.events() == [("Normal", "ReceiverUpdated")]


async def test_removal_keeps_and_labels_the_pvc_and_deletes_the_rest_in_order() -> None:
    kube = await converged()
    dropped = cluster()
    dropped["spec"]["plugins"] = []
    kube.put(dropped)
    reconciler = reconciler_on(kube)

    sweep = await Janitor(kube, reconciler).sweep()

    assert [name for name, _ in sweep.remove] == ["pg"]
    assert kube.object_writes() == [
        ("create", "Job", f"{RECEIVER}-drop-slot"),  # the slot first: it pins WAL on the primary
        ("label", "PersistentVolumeClaim", RECEIVER),
        ("delete", "Certificate", f"{RECEIVER}-server"),
        ("delete", "Service", RECEIVER),
        ("delete", "Deployment", RECEIVER),  # last: what the next sweep looks for
    ]
    pvc = kube.find("PersistentVolumeClaim", NS, RECEIVER)
    assert pvc is not None
    assert pvc["metadata"]["labels"][LABEL_KEPT] == "true"
    assert [kind for kind, _, _ in kube.objects] == ["Cluster", "PersistentVolumeClaim", "Job"]

    kube.writes.clear()
    kube.put(cluster())  # the plugin is back: the kept PVC is adopted, the Job goes first
    await reconciler.post(body(cluster()))
    assert kube.object_writes()[:3] == [
        ("delete", "Job", f"{RECEIVER}-drop-slot"),
        ("label", "PersistentVolumeClaim", RECEIVER),
        ("apply", "PersistentVolumeClaim", RECEIVER),
    ]
    adopted = kube.find("PersistentVolumeClaim", NS, RECEIVER)
    assert adopted is not None
    assert LABEL_KEPT not in adopted["metadata"]["labels"]


async def test_a_volume_of_another_storage_class_is_refused_naming_the_fix() -> None:
    kube = MemoryKube()
    await reconciler_on(kube).post(body(cluster({"walStorageClass": "standard"})))
    kube.writes.clear()

    with pytest.raises(ConfigError) as refused:
        await reconciler_on(kube).post(body(cluster({"walStorageClass": "fast"})))

    (issue,) = refused.value.issues
    assert issue.parameter == "walStorageClass"
    assert 'set walStorageClass: "standard"' in issue.message
    assert kube.object_writes() == [], "nothing is half-applied"
    assert kube.events() == [("Warning", "InvalidConfiguration")]


async def test_invalid_parameters_are_refused_before_any_read_or_write() -> None:
    kube = MemoryKube()
    with pytest.raises(ConfigError) as refused:
        await reconciler_on(kube).post(body(cluster({"walPVCSize": "-1Gi"})))
    assert [i.parameter for i in refused.value.issues] == ["walPVCSize"]
    assert kube.object_writes() == []
    assert kube.events() == [("Warning", "InvalidConfiguration")]


async def test_the_pvc_never_shrinks() -> None:
    kube = await converged({"walPVCSize": "20Gi"})

    with pytest.raises(ConfigError, match="at least 20Gi"):
        await reconciler_on(kube).post(body(cluster({"walPVCSize": "10Gi", "verbose": "true"})))

    assert kube.object_writes() == [], "not even the Deployment's change is applied"
    assert storage(kube) == "20Gi"


async def test_an_unbound_pvc_grows_once_bound() -> None:
    kube = await converged({"walPVCSize": "1Gi"})
    kube.objects[("PersistentVolumeClaim", NS, RECEIVER)]["status"] = {"phase": "Pending"}

    await reconciler_on(kube).post(body(cluster({"walPVCSize": "3Gi"})))
    assert storage(kube) == "1Gi"
    assert ("Normal", "ResizeDeferred") in kube.events()

    kube.objects[("PersistentVolumeClaim", NS, RECEIVER)]["status"] = {"phase": "Bound"}
    await reconciler_on(kube).post(body(cluster({"walPVCSize": "3Gi"})))
    assert storage(kube) == "3Gi"
