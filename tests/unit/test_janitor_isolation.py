"""One Cluster's failed cleanup never blocks another's (the janitor on an in-memory API)."""

from __future__ import annotations

from typing import Any

from support.clusters import cluster_document
from support.memory_kube import MemoryKube, Write

from cnpg_wal_replica.errors import ApplyError
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.plugin.janitor import Janitor
from cnpg_wal_replica.reconcile.reconciler import Reconciler
from cnpg_wal_replica.specs.labels import object_labels
from cnpg_wal_replica.specs.names import receiver_name

BROKEN = "refuses-jobs"
"""A namespace whose Jobs the API server refuses (a quota, an admission policy)."""


def refuse(write: Write) -> Exception | None:
    """Jobs in `BROKEN`, applies for `fails-to-recreate`; a bug on deleting `crash-…`."""
    if write.kind == "Job" and write.verb == "create" and write.namespace == BROKEN:
        return ApplyError(f"cannot create Job {BROKEN}/x: exceeded quota")
    if write.verb == "apply" and write.name.startswith("fails-to-recreate"):
        return ApplyError("the API server refused Deployment x")
    if write.verb == "delete" and write.name.startswith("crash-"):
        return RuntimeError("a bug, not an API error")
    return None


def removed(name: str, namespace: str) -> list[dict[str, Any]]:
    """A Cluster that dropped the plugin, its receiver Deployment still running, its PVC."""
    cluster = cluster_document(name, namespace)
    cluster["spec"]["plugins"] = []
    meta = {"name": receiver_name(name), "namespace": namespace, "labels": object_labels(name)}
    deployment = {
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"template": {"spec": {"containers": [{"image": "r:1"}]}}},
    }
    return [cluster, deployment, {"kind": "PersistentVolumeClaim", "metadata": dict(meta)}]


def janitor_on(kube: MemoryKube) -> Janitor:
    return Janitor(kube, Reconciler(kube, kube, receiver_image="r:1"))


def written(kube: MemoryKube, verb: str, kind: str | None = None) -> list[tuple[str, str]]:
    return [
        (w.namespace, w.name)
        for w in kube.writes
        if w.verb == verb and (kind is None or w.kind == kind)
    ]


async def test_one_clusters_failure_never_blocks_another() -> None:
    unreadable = {
        "kind": "Cluster",
        "metadata": {"name": "bad", "namespace": "app"},
        "spec": {"plugins": "x"},
    }
    kube = MemoryKube(
        [
            *removed("first", BROKEN),
            unreadable,
            *removed("crash-me", "app"),
            *removed("third", "app"),
            cluster_document("fails-to-recreate"),
            cluster_document("ok"),
        ],
        refuse=refuse,
    )

    sweep = await janitor_on(kube).sweep()

    assert written(kube, "delete") == [
        ("app", "third-wal-receiver-server"),  # the WAL server's Certificate, its Service,
        ("app", "third-wal-receiver"),
        ("app", "third-wal-receiver"),  # and the Deployment last: the next sweep's cue
        # Re-creating a receiver first deletes a drop-slot Job an earlier removal left.
        ("app", "fails-to-recreate-wal-receiver-drop-slot"),
        ("app", "ok-wal-receiver-drop-slot"),
    ]
    assert written(kube, "create", "Job") == [
        ("app", "crash-me-wal-receiver-drop-slot"),
        ("app", "third-wal-receiver-drop-slot"),
    ]
    # The PVC is labelled kept before anything is deleted (crash-me's deletes then fail).
    assert written(kube, "label") == [
        ("app", "crash-me-wal-receiver"),
        ("app", "third-wal-receiver"),
    ]
    kept = kube.find("PersistentVolumeClaim", "app", "third-wal-receiver")
    assert kept is not None
    assert kept["metadata"]["labels"][LABEL_KEPT] == "true"
    assert [name for _, name in written(kube, "apply", "Deployment")] == ["ok-wal-receiver"]
    assert sorted(sweep.failed) == [
        ("app", "crash-me"),
        ("app", "fails-to-recreate"),
        (BROKEN, "first"),
    ]


async def test_a_failed_cluster_is_retried_on_the_next_sweep() -> None:
    broken = True

    def quota(write: Write) -> Exception | None:
        return refuse(write) if broken else None

    kube = MemoryKube(removed("first", BROKEN), refuse=quota)
    janitor = janitor_on(kube)
    assert (await janitor.sweep()).failed == ((BROKEN, "first"),)
    assert written(kube, "delete") == [], "nothing deleted before the drop-slot Job exists"

    broken = False  # the quota is raised
    assert (await janitor.sweep()).failed == ()
    assert [name for _, name in written(kube, "delete")] == [
        "first-wal-receiver-server",
        "first-wal-receiver",
        "first-wal-receiver",
    ]
    assert (await janitor.sweep()).remove == (), "the Deployment is gone: nothing left to do"
