"""The PVC policy against the live claim: never shrink, fixed class, grow once bound, kept."""

from __future__ import annotations

from typing import Any

from support.clusters import cluster_document

from cnpg_wal_replica import config
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.specs import pvc_policy
from cnpg_wal_replica.specs.pvc import build_pvc


def setup(parameters: dict[str, str] | None = None) -> tuple[ClusterView, config.Configuration]:
    view = ClusterView.from_dict(cluster_document(parameters=parameters))
    return view, config.parse(view, "r:1")


def live_pvc(
    size: str, storage_class: str | None = "standard", phase: str = "Bound"
) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"spec": spec, "status": {"phase": phase}}


def test_shrinking_the_volume_is_refused_with_the_minimum() -> None:
    view, cfg = setup({"walPVCSize": "5Gi"})
    (issue,) = pvc_policy.volume_conflicts(view, cfg, live_pvc("10Gi"))
    assert issue.parameter == "walPVCSize"
    assert "at least 10Gi" in issue.message


def test_growing_or_equal_is_fine() -> None:
    view, cfg = setup({"walPVCSize": "10240Mi"})
    assert pvc_policy.volume_conflicts(view, cfg, live_pvc("10Gi")) == ()
    assert pvc_policy.volume_conflicts(view, cfg, None) == ()


def test_changing_the_storage_class_is_refused() -> None:
    view, cfg = setup({"walStorageClass": "fast"})
    (issue,) = pvc_policy.volume_conflicts(view, cfg, live_pvc("10Gi", "standard"))
    assert issue.parameter == "walStorageClass"
    assert "'standard'" in issue.message


def test_an_unbound_claim_keeps_its_size_until_bound() -> None:
    view, cfg = setup({"walPVCSize": "20Gi"})
    desired = build_pvc(view, cfg)
    deferred = pvc_policy.defer_resize_until_bound(desired, live_pvc("10Gi", phase="Pending"))
    assert deferred is not None
    assert deferred["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert desired["spec"]["resources"]["requests"]["storage"] == "20Gi", "a copy is changed"
    assert pvc_policy.defer_resize_until_bound(desired, live_pvc("10Gi")) is None
    assert pvc_policy.defer_resize_until_bound(desired, live_pvc("20Gi", phase="Pending")) is None
    assert pvc_policy.defer_resize_until_bound(desired, None) is None


def test_kept_is_read_from_the_label_and_adopting_removes_it() -> None:
    kept = {"metadata": {"labels": {LABEL_KEPT: "true"}}}
    assert pvc_policy.is_kept(kept)
    assert not pvc_policy.is_kept({"metadata": {"labels": {}}})
    assert not pvc_policy.is_kept(None)
    assert pvc_policy.KEPT == {LABEL_KEPT: "true"}
    assert pvc_policy.ADOPTED == {LABEL_KEPT: None}
