"""Every metric the kit's rules, rules test and dashboard name is one we export (read from
the receiver's and the plugin server's registries), one CloudNativePG exports (checked
against the pinned release's own sources), or Prometheus's `up`."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support import harnesspaths
from support.kube_fixtures import skip_or_fail
from support.monitoring import (
    CNPG_METRICS,
    alerting_rules,
    allowed_metric_names,
    dashboard,
    dashboard_queries,
    exported_metric_names,
    metric_names,
    rules_test_series,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('rate(a_total{job="x", le=~"1|2"}[5m]) > 0.5e3', {"a_total"}),
        ("max by (namespace, cluster) (b) == 1 and on (namespace, cluster) c == 0", {"b", "c"}),
        (
            "x * on (pod) group_left (cluster) group by (pod, cluster) (y) > 1073741824  # 1 GiB",
            {"x", "y"},
        ),
        ('time() - min(d{namespace=~"$namespace"}) offset 1h', {"d"}),
        ("sum(increase(e[$__rate_interval])) or vector(0)", {"e"}),
        ('label_values(f{namespace=~"$namespace"}, cluster)', {"f"}),
        ("label_values(namespace)", set()),
        ('count_values("v", g) unless h:recorded:rate5m', {"g", "h:recorded:rate5m"}),
    ],
)
def test_metric_names_are_read_from_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_registries_give_the_exposed_series_names() -> None:
    exported = exported_metric_names()
    assert "cnpg_wal_replica_receiver_restarts_total" in exported  # a counter
    assert "cnpg_wal_replica_receiver_restarts" not in exported
    assert "cnpg_wal_replica_receiver_slot_wal_status" in exported  # labelled, no children yet
    assert "cnpg_wal_replica_server_synchronous_expected" in exported
    assert "process_cpu_seconds_total" in exported  # the plugin server's process collector


def _unknown(exprs: list[str]) -> dict[str, set[str]]:
    allowed = allowed_metric_names()
    found = {expr: metric_names(expr) - allowed for expr in exprs}
    return {expr: names for expr, names in found.items() if names}


def test_rule_expressions_name_only_known_metrics() -> None:
    exprs = [r["expr"] for r in alerting_rules()]
    assert all(metric_names(e) for e in exprs)
    assert _unknown(exprs) == {}


def test_dashboard_queries_name_only_known_metrics() -> None:
    queries = dashboard_queries(dashboard())
    assert len(queries) > 20
    assert _unknown(queries) == {}


def test_the_rules_test_feeds_only_known_metrics() -> None:
    """Else promtool would test the alerts on series nothing ever exports."""
    assert _unknown(rules_test_series()) == {}


def test_a_misspelt_metric_is_caught() -> None:
    assert _unknown(["cnpg_wal_replica_receiver_lag > 0"]) == {
        "cnpg_wal_replica_receiver_lag > 0": {"cnpg_wal_replica_receiver_lag"}
    }


def test_cnpg_names_are_the_pinned_releases_default_queries() -> None:
    """`cnpg_<query>_<column>` for each GAUGE/COUNTER column of default-monitoring.yaml."""
    try:
        config = harnesspaths.cnpg_module_dir() / "config"
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise
    document = yaml.safe_load((config / "manager" / "default-monitoring.yaml").read_text())
    queries = yaml.safe_load(document["data"]["queries"])
    exported = {
        f"cnpg_{query}_{column}"
        for query, spec in queries.items()
        for metric in spec["metrics"]
        for column, how in metric.items()
        if how["usage"] in ("GAUGE", "COUNTER")
    }
    from_queries = {n for n, source in CNPG_METRICS.items() if "default-monitoring" in source}
    assert from_queries
    assert from_queries <= exported
    labels = {
        column
        for metric in queries["pg_replication_slots"]["metrics"]
        for column, how in metric.items()
        if how["usage"] == "LABEL"
    }
    assert "slot_name" in labels  # what the slot alert selects on


def _go_module_dir(version: str) -> Path:
    cache = subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip() or os.path.expanduser("~/go/pkg/mod")
    return Path(cache) / f"github.com/cloudnative-pg/cloudnative-pg@{version}"


def test_cnpg_collector_up_is_the_pinned_releases_and_carries_cluster() -> None:
    source = _go_module_dir(harnesspaths.pins()["CNPG_VERSION"])
    collector = source / "pkg/management/postgres/webserver/metricserver/pg_collector.go"
    if not collector.is_file():
        skip_or_fail(f"no {collector}: run scripts/kube-harness build (downloads the module)")
    text = collector.read_text()
    assert 'const PrometheusNamespace = "cnpg"' in text
    assert 'subsystem := "collector"' in text
    up = r'Namespace:\s*PrometheusNamespace,\s*Subsystem:\s*subsystem,\s*Name:\s*"up",[^}]*\},'
    assert re.search(up + r'\s*\[\]string\{"cluster"\}', text)
