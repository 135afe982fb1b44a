"""The plugin server's per-Cluster series follow the janitor's sweeps."""

from __future__ import annotations

import pytest

from cnpg_wal_replica.metadata import VERSION
from cnpg_wal_replica.plugin.janitor import Sweep
from cnpg_wal_replica.plugin.metrics import ServerMetrics


def expected(metrics: ServerMetrics, namespace: str, cluster: str) -> float | None:
    return metrics.registry.get_sample_value(
        "cnpg_wal_replica_server_synchronous_expected",
        {"namespace": namespace, "cluster": cluster},
    )


def test_a_sweep_replaces_the_synchronous_series() -> None:
    metrics = ServerMetrics()
    metrics.observe_sweep(Sweep((), (), synchronous=(("app", "a"), ("prod", "b"))))
    assert expected(metrics, "app", "a") == expected(metrics, "prod", "b") == 1
    first = metrics.registry.get_sample_value(
        "cnpg_wal_replica_server_janitor_last_sweep_timestamp_seconds"
    )
    assert first is not None
    assert first > 0

    metrics.observe_sweep(Sweep((), (), synchronous=(("prod", "b"),)))
    assert expected(metrics, "app", "a") is None, "a Cluster no longer synchronous disappears"
    assert expected(metrics, "prod", "b") == 1


def test_the_version_is_exported() -> None:
    metrics = ServerMetrics()
    value = metrics.registry.get_sample_value("cnpg_wal_replica_server_info", {"version": VERSION})
    assert value == 1


def test_observed_calls_land_in_the_histogram() -> None:
    metrics = ServerMetrics()
    metrics.observe_call("/cnpgi.reconciler.v1.ReconcilerHooks/Post", "ok", 0.003)
    metrics.observe_call("/cnpgi.reconciler.v1.ReconcilerHooks/Post", "ok", 0.2)
    labels = {"method": "/cnpgi.reconciler.v1.ReconcilerHooks/Post", "outcome": "ok"}
    sample = metrics.registry.get_sample_value
    assert sample("cnpg_wal_replica_server_call_duration_seconds_count", labels) == 2
    name = "cnpg_wal_replica_server_call_duration_seconds"
    assert sample(f"{name}_sum", labels) == pytest.approx(0.203)
    assert sample(f"{name}_bucket", {**labels, "le": "0.005"}) == 1
