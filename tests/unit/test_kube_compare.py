"""Desired-vs-live comparison: steady state means no write; any owned change means apply."""

from __future__ import annotations

import copy

from support.clusters import cluster_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.kube.compare import desired_hash, is_subset, up_to_date, with_hash
from cnpg_wal_replica.metadata import ANNOTATION_DESIRED_HASH


def deployment(parameters: dict[str, str] | None = None) -> dict:
    view = ClusterView.from_dict(cluster_document(parameters=parameters, uid="u-1"))
    return with_hash(specs.desired_objects(view, config.parse(view, "ghcr.io/x/y:1"))[1])


def as_live(desired: dict) -> dict:
    """What the API server returns: our fields plus defaults and status."""
    live = copy.deepcopy(desired)
    live["metadata"]["resourceVersion"] = "42"
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    c = live["spec"]["template"]["spec"]["containers"][0]
    c["terminationMessagePath"] = "/dev/termination-log"
    c["readinessProbe"]["successThreshold"] = 1
    live["status"] = {"readyReplicas": 1}
    return live


def test_hash_ignores_its_own_annotation() -> None:
    d = deployment()
    assert desired_hash(d) == d["metadata"]["annotations"][ANNOTATION_DESIRED_HASH]


def test_live_with_defaults_is_up_to_date() -> None:
    d = deployment()
    assert up_to_date(d, as_live(d))


def test_parameter_change_is_not_up_to_date() -> None:
    live = as_live(deployment())
    assert not up_to_date(deployment({"verbose": "true"}), live)


def test_someone_elses_edit_is_noticed() -> None:
    d = deployment()
    live = as_live(d)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest"
    assert not up_to_date(d, live)


def test_removed_list_element_is_noticed() -> None:
    d = deployment()
    live = as_live(d)
    live["spec"]["template"]["spec"]["volumes"].pop()
    assert not is_subset(d, live)


def test_quantities_compare_by_value() -> None:
    assert is_subset({"requests": {"cpu": "0.5"}}, {"requests": {"cpu": "500m"}})
    assert is_subset(
        {"resources": {"requests": {"storage": "1024Mi"}}},
        {"resources": {"requests": {"storage": "1Gi"}}},
    )
    assert not is_subset({"requests": {"memory": "1Gi"}}, {"requests": {"memory": "1G"}})
    assert not is_subset({"env": "0.5"}, {"env": "500m"}), "only quantities are normalised"
