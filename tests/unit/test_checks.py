"""The synchronous-standby advice (the volume checks are in specs/test_pvc_policy.py)."""

from __future__ import annotations

from typing import Any

import pytest
from support.clusters import cluster_document

from cnpg_wal_replica import checks, config
from cnpg_wal_replica.cluster import ClusterView


def setup(
    parameters: dict[str, str] | None = None, sync: dict[str, Any] | None = None, **spec: Any
) -> tuple[ClusterView, config.Configuration]:
    doc = cluster_document(parameters=parameters)
    if sync is not None:
        doc["spec"]["postgresql"]["synchronous"] = sync
    doc["spec"].update(spec)
    view = ClusterView.from_dict(doc)
    return view, config.parse(view, "r:1")


@pytest.mark.parametrize(
    ("sync", "spec", "fragment"),
    [
        (None, {}, "has no synchronous block"),
        (
            {"method": "any", "number": 1, "standbyNamesPost": ["other"]},
            {},
            "in neither standbyNamesPre nor standbyNamesPost",
        ),
        ({"method": "any", "number": 1, "dataDurability": "preferred"}, {}, "preferred"),
        (None, {"minSyncReplicas": 1, "maxSyncReplicas": 1}, "minSyncReplicas"),
    ],
)
def test_synchronous_active_needs_the_name_listed(
    sync: Any, spec: dict[str, Any], fragment: str
) -> None:
    view, cfg = setup({"synchronous": "active"}, sync, **spec)
    advice = checks.synchronous_advice(view, cfg)
    assert advice is not None
    assert fragment in advice
    assert "pg-wal-receiver" in advice


def test_synchronous_listed_in_any_case_is_fine() -> None:
    view, cfg = setup(
        {"synchronous": "active"},
        {"method": "first", "number": 1, "standbyNamesPre": ["PG-WAL-Receiver"]},
    )
    assert checks.synchronous_advice(view, cfg) is None


def test_listed_but_inactive_says_the_parameter_and_the_cluster_disagree() -> None:
    view, cfg = setup({}, {"method": "first", "number": 1, "standbyNamesPre": ["pg-wal-receiver"]})
    advice = checks.synchronous_advice(view, cfg)
    assert advice == (
        "'pg-wal-receiver' is listed in spec.postgresql.synchronous, so commits can wait for "
        "the receiver, but the plugin parameter synchronous is inactive; set synchronous: "
        "active (the plugin then checks that block) or remove 'pg-wal-receiver' from "
        "standbyNamesPre/standbyNamesPost"
    )


def test_inactive_and_unlisted_says_nothing() -> None:
    view, cfg = setup()
    assert checks.synchronous_advice(view, cfg) is None
