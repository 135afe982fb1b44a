"""Every object the builders produce passes kubernetes-validate for the targeted version."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from support.clusters import cluster_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.specs.job import build_drop_slot_job

KUBERNETES_VERSION = "1.34"

FULL = {
    "synchronous": "active",
    "walStorageClass": "fast",
    "cpuRequest": "100m",
    "cpuLimit": "1",
    "memoryRequest": "64Mi",
    "memoryLimit": "256Mi",
    "compression": "gzip:3",
    "retentionMaxAge": "7d",
    "retentionMaxSize": "5Gi",
    "walDirectory": "/data/wal",
}


def objects(parameters: dict[str, str] | None) -> list[dict[str, Any]]:
    view = ClusterView.from_dict(cluster_document(parameters=parameters))
    built = specs.desired_objects(view, config.parse(view, "ghcr.io/x/receiver:1"))
    return [*built, build_drop_slot_job("pg", built[1])]


@pytest.mark.parametrize("parameters", [None, FULL], ids=["defaults", "full"])
def test_objects_are_valid_kubernetes(parameters: dict[str, str] | None) -> None:
    built = objects(parameters)
    assert {o["kind"] for o in built} >= {"Certificate", "Service", "Deployment"}
    for obj in built:
        if obj["apiVersion"].startswith("cert-manager.io/"):
            continue  # no schema here: the API server checks it against cert-manager's CRD
            # (tests/kube/test_kube_reconcile.py applies it)
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_validation_catches_a_broken_object() -> None:
    broken = objects(None)[1]
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
