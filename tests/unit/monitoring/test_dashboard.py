"""The Grafana dashboard: namespace and cluster variables that every query honours, one row
per Cluster with the panels the kit promises, queries promtool parses, and a sidecar
ConfigMap that holds exactly the JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import harnesspaths
from support.kube_fixtures import skip_or_fail
from support.monitoring import MONITORING, ROOT, dashboard, dashboard_queries, metric_names, panels

from cnpg_wal_replica.parameters import BY_NAME

CONFIGMAP = MONITORING / "grafana-dashboard-configmap.yaml"
SELECTS_CLUSTER = re.compile(r'namespace=~"\$namespace".*cluster=~"\$cluster"')


def variables() -> dict[str, dict[str, object]]:
    return {v["name"]: v for v in dashboard()["templating"]["list"]}


def test_namespace_and_cluster_variables_and_the_cluster_follows_the_namespace() -> None:
    found = variables()
    assert {"datasource", "namespace", "cluster"} <= set(found)
    cluster_query = json.dumps(found["cluster"]["query"])
    assert "$namespace" in cluster_query
    assert found["namespace"]["multi"]
    assert found["cluster"]["includeAll"]


def test_every_panel_uses_the_datasource_variable() -> None:
    for panel in panels(dashboard()):
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def test_one_row_per_cluster() -> None:
    rows = [p for p in dashboard()["panels"] if p["type"] == "row"]
    assert [r.get("repeat") for r in rows] == ["cluster"]


def test_every_receiver_query_selects_the_chosen_namespace_and_cluster() -> None:
    for query in dashboard_queries(dashboard()):
        names = metric_names(query)
        receiver = {n for n in names if n.startswith("cnpg_wal_replica_")}
        if receiver and not query.startswith("label_values("):
            for name in receiver:
                selector = re.search(re.escape(name) + r"\{([^}]*)\}", query)
                assert selector, (name, query)
                assert SELECTS_CLUSTER.search(selector.group(1)), (name, query)


@pytest.mark.parametrize(
    ("what", "metric"),
    [
        ("streaming state", "cnpg_wal_replica_receiver_ready"),
        ("lag", "cnpg_wal_replica_receiver_lag_bytes"),
        ("lag on the primary", "cnpg_pg_replication_slots_pg_wal_lsn_diff"),
        ("throughput", "cnpg_wal_replica_receiver_flushed_lsn"),
        ("archive size", "cnpg_wal_replica_receiver_archive_bytes"),
        ("archive age", "cnpg_wal_replica_receiver_first_segment_timestamp_seconds"),
        ("timelines", "cnpg_wal_replica_receiver_timeline"),
        ("restarts", "cnpg_wal_replica_receiver_restarts_total"),
    ],
)
def test_the_promised_panels_are_there(what: str, metric: str) -> None:
    top = dashboard()["panels"]
    (row,) = [i for i, p in enumerate(top) if p.get("repeat") == "cluster"]
    row_panels = top[row + 1 :]  # a repeated row holds the panels that follow it
    used = {n for p in row_panels for t in p.get("targets", []) for n in metric_names(t["expr"])}
    assert metric in used, what


def test_the_slot_panel_watches_the_default_slot() -> None:
    slots = {
        s for q in dashboard_queries(dashboard()) for s in re.findall(r'slot_name="([^"]*)"', q)
    }
    assert slots == {BY_NAME["slotName"].default}


def test_panel_ids_are_unique() -> None:
    ids = [p["id"] for p in panels(dashboard())]
    assert len(ids) == len(set(ids))


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """Each query (variables filled in) as a recording rule: `promtool check rules` parses it."""
    try:
        promtool = harnesspaths.promtool()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise
    rules = []
    for n, query in enumerate(dashboard_queries(dashboard())):
        query = re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query.strip(), flags=re.S)
        query = query.replace("$__rate_interval", "5m").replace("$namespace", ".*")
        rules.append({"record": f"dashboard:query_{n}", "expr": query.replace("$cluster", ".*")})
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]})
    )
    done = subprocess.run(
        [str(promtool), "check", "rules", "queries.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_configmap_holds_the_dashboard_for_the_sidecar() -> None:
    configmap = yaml.safe_load(CONFIGMAP.read_text())
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = configmap["data"].values()
    assert json.loads(text) == dashboard()


def test_gen_monitoring_notices_a_changed_kit_and_rewrites_what_is_made_from_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "gen-monitoring"
    script.write_text((ROOT / "scripts" / "gen-monitoring").read_text())
    shutil.copytree(MONITORING, tmp_path / "monitoring")
    chart_files = Path("charts") / "cnpg-wal-replica" / "files" / "monitoring"
    shutil.copytree(ROOT / chart_files, tmp_path / chart_files)

    def gen(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    assert gen("--check").returncode == 0
    board = dashboard()
    board["title"] = "Edited"
    (tmp_path / "monitoring" / "grafana-dashboard.json").write_text(json.dumps(board))
    rules = tmp_path / "monitoring" / "prometheusrule.yaml"
    rules.write_text(rules.read_text().replace("for: 5m", "for: 6m", 1))
    stale = gen("--check")
    assert stale.returncode == 1
    for name in (CONFIGMAP.name, "grafana-dashboard.json", "prometheusrule.yaml"):
        assert name in stale.stderr
    assert "podmonitor" not in stale.stderr
    assert gen().returncode == 0
    assert gen("--check").returncode == 0
    configmap = yaml.safe_load((tmp_path / "monitoring" / CONFIGMAP.name).read_text())
    assert json.loads(next(iter(configmap["data"].values())))["title"] == "Edited"
    copied = yaml.safe_load((tmp_path / chart_files / "prometheusrule.yaml").read_text())
    assert copied == yaml.safe_load(rules.read_text())
