"""One Cluster's failed cleanup never blocks another's (the janitor against in-memory fakes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from support.clusters import cluster_document

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ApplyError
from cnpg_wal_replica.kube.janitor import Cluster, Janitor
from cnpg_wal_replica.specs.labels import object_labels
from cnpg_wal_replica.specs.names import receiver_name

BROKEN = "refuses-jobs"
"""A namespace whose Jobs the API server refuses (a quota, an admission policy)."""


class Obj:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_dict(self) -> dict[str, Any]:
        return self._data


class FakeClient:
    """Lists Clusters and receiver Deployments from memory."""

    def __init__(self, clusters: list[dict[str, Any]], deployments: list[dict[str, Any]]) -> None:
        self.clusters = clusters
        self.deployments = deployments

    async def list(self, resource: Any, **_: Any) -> AsyncIterator[Obj]:
        for item in self.clusters if resource is Cluster else self.deployments:
            yield Obj(item)


class FakeApplier:
    """Records writes; refuses Jobs in `BROKEN` and crashes on a Deployment named `crash-…`."""

    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.deleted: list[tuple[str, str]] = []
        self.labelled: list[str] = []

    async def create(self, obj: dict[str, Any]) -> bool:
        if obj["metadata"]["namespace"] == BROKEN:
            raise ApplyError(f"cannot create Job {BROKEN}/x: exceeded quota")
        self.jobs.append(obj["metadata"]["name"])
        return True

    async def delete(self, kind: str, name: str, namespace: str) -> bool:
        if name.startswith("crash-"):
            raise RuntimeError("a bug, not an API error")
        self.deleted.append((namespace, name))
        return True

    async def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        return {"metadata": {"name": name}}

    async def patch_labels(self, kind: str, name: str, namespace: str, labels: Any) -> None:
        self.labelled.append(name)


class FakeReconciler:
    def __init__(self) -> None:
        self.applier = FakeApplier()
        self.reconciled: list[str] = []

    async def reconcile(self, view: ClusterView) -> Any:
        if view.name == "fails-to-recreate":
            raise ApplyError("the API server refused Deployment x")
        self.reconciled.append(view.name)
        return []


def removed(name: str, namespace: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Cluster that dropped the plugin, and its receiver Deployment still running."""
    cluster = cluster_document(name, namespace)
    cluster["spec"]["plugins"] = []
    deployment = {
        "metadata": {
            "name": receiver_name(name),
            "namespace": namespace,
            "labels": object_labels(name),
        },
        "spec": {"template": {"spec": {"containers": [{"image": "r:1"}]}}},
    }
    return cluster, deployment


async def test_one_clusters_failure_never_blocks_another() -> None:
    first, first_receiver = removed("first", BROKEN)
    second, second_receiver = removed("crash-me", "app")
    third, third_receiver = removed("third", "app")
    unreadable = {"metadata": {"name": "bad", "namespace": "app"}, "spec": {"plugins": "x"}}
    clusters = [
        first,
        unreadable,
        second,
        third,
        cluster_document("fails-to-recreate"),
        cluster_document("ok"),
    ]
    reconciler = FakeReconciler()
    client = FakeClient(clusters, [first_receiver, second_receiver, third_receiver])

    sweep = await Janitor(client, reconciler).sweep()  # type: ignore[arg-type]

    applier = reconciler.applier
    assert applier.deleted == [
        ("app", "third-wal-receiver-server"),  # the WAL server's Certificate, its Service,
        ("app", "third-wal-receiver"),
        ("app", "third-wal-receiver"),  # and the Deployment last: the next sweep's cue
    ]
    assert applier.jobs == ["crash-me-wal-receiver-drop-slot", "third-wal-receiver-drop-slot"]
    # The PVC is labelled kept before anything is deleted (crash-me's deletes then fail).
    assert applier.labelled == ["crash-me-wal-receiver", "third-wal-receiver"]
    assert reconciler.reconciled == ["ok"]
    assert sorted(sweep.failed) == [
        ("app", "crash-me"),
        ("app", "fails-to-recreate"),
        (BROKEN, "first"),
    ]


async def test_a_failed_cluster_is_retried_on_the_next_sweep() -> None:
    cluster, receiver = removed("first", BROKEN)
    reconciler = FakeReconciler()
    janitor = Janitor(FakeClient([cluster], [receiver]), reconciler)  # type: ignore[arg-type]
    assert (await janitor.sweep()).failed == ((BROKEN, "first"),)
    assert reconciler.applier.deleted == [], "nothing deleted before the drop-slot Job exists"

    receiver["metadata"]["namespace"] = cluster["metadata"]["namespace"] = "fixed"
    assert (await janitor.sweep()).failed == ()
    assert [name for _, name in reconciler.applier.deleted] == [
        "first-wal-receiver-server",
        "first-wal-receiver",
        "first-wal-receiver",
    ]
