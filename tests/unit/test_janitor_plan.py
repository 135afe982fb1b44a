"""The janitor's pure decision: which receivers to remove, which to re-create."""

from __future__ import annotations

from support.clusters import cluster_document

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.plugin.janitor import plan_sweep
from cnpg_wal_replica.specs.labels import object_labels


def receiver(cluster: str, namespace: str = "app") -> dict:
    return {
        "metadata": {
            "name": f"{cluster}-wal-receiver",
            "namespace": namespace,
            "labels": object_labels(cluster),
        }
    }


def test_removed_or_disabled_plugin_means_remove() -> None:
    removed = cluster_document("a")
    removed["spec"]["plugins"] = []
    disabled = ClusterView.from_dict(cluster_document("b", enabled=False))
    kept = ClusterView.from_dict(cluster_document("c"))
    sweep = plan_sweep(
        [ClusterView.from_dict(removed), disabled, kept],
        [receiver("a"), receiver("b"), receiver("c")],
    )
    assert [name for name, _ in sweep.remove] == ["a", "b"]
    assert sweep.recreate == ()


def test_missing_cluster_is_left_to_garbage_collection() -> None:
    sweep = plan_sweep([], [receiver("gone")])
    assert sweep.remove == ()
    assert sweep.recreate == ()


def test_same_name_in_another_namespace_is_not_confused() -> None:
    other = cluster_document("a", namespace="other")
    other["spec"]["plugins"] = []
    sweep = plan_sweep([ClusterView.from_dict(other)], [receiver("a", "app")])
    assert sweep.remove == ()


def test_enabled_cluster_without_receiver_is_recreated() -> None:
    ready = ClusterView.from_dict(cluster_document("a"))
    fresh = cluster_document("b")
    del fresh["status"]
    sweep = plan_sweep([ready, ClusterView.from_dict(fresh)], [])
    assert [v.name for v in sweep.recreate] == ["a"], "only Clusters with a status are recreated"


def test_synchronous_lists_the_enabled_clusters_whose_parameter_is_active() -> None:
    views = [
        ClusterView.from_dict(cluster_document("a", parameters={"synchronous": "Active"})),
        ClusterView.from_dict(cluster_document("b", parameters={"synchronous": "inactive"})),
        ClusterView.from_dict(cluster_document("c")),
        ClusterView.from_dict(cluster_document("d", parameters={"synchronous": "maybe"})),
        ClusterView.from_dict(
            cluster_document("e", enabled=False, parameters={"synchronous": "active"})
        ),
    ]
    assert plan_sweep(views, []).synchronous == (("app", "a"),)
