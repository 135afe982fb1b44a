"""Definitions that cannot be a Cluster are refused cheaply as INVALID_ARGUMENT, never INTERNAL."""

from __future__ import annotations

import time

import grpc
import pytest

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ClusterDecodeError
from cnpg_wal_replica.plugin.reconciler import kind_of
from cnpg_wal_replica.plugin.status import to_status

DEEP = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"kind":"Cluster","spec":' + b"[" * 100_000,
]


@pytest.mark.parametrize("definition", DEEP)
def test_deep_nesting_is_invalid_argument_and_cheap(definition: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(ClusterDecodeError, match=r"nests too deeply|not valid JSON") as caught:
        ClusterView.from_json(definition)
    assert time.perf_counter() - started < 0.5
    assert to_status(caught.value)[0] is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("definition", DEEP[:2])
def test_kind_of_deep_resource_is_unknown(definition: bytes) -> None:
    assert kind_of(b" " + definition) is None


def test_a_view_keeps_only_what_is_read_again() -> None:
    """Post caches views: megabytes of annotations must not stay in memory with them."""
    from support.clusters import cluster_document

    doc = cluster_document()
    doc["metadata"]["annotations"] = {"big": "x" * 1_000_000}
    view = ClusterView.from_dict(doc)
    assert view.raw == {"spec": {"plugins": doc["spec"]["plugins"]}} or view.raw == {
        "spec": {"plugins": doc["spec"]["plugins"]},
        "status": {"writeService": doc["status"]["writeService"]},
    }
    assert "x" * 1000 not in repr(view.raw)
