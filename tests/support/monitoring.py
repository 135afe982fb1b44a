"""The monitoring kit (monitoring/) as data: its objects, every PromQL expression it holds,
the metric names an expression uses, and the names it may use (ours, from the registries;
CloudNativePG's, cited; Prometheus's own)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from cnpg_wal_replica.plugin.metrics import ServerMetrics
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES_TEST = ROOT / "tests" / "unit" / "monitoring" / "alerts_test.yaml"
Doc = dict[str, Any]

CNPG_METRICS = {
    "cnpg_pg_replication_slots_pg_wal_lsn_diff": (
        "config/manager/default-monitoring.yaml, query pg_replication_slots, column "
        "pg_wal_lsn_diff (labels slot_name, slot_type, database)"
    ),
    "cnpg_collector_up": (
        "pkg/management/postgres/webserver/metricserver/pg_collector.go, namespace cnpg, "
        'subsystem collector, Name "up", label cluster'
    ),
}
"""CloudNativePG's metrics the kit reads, with where github.com/cloudnative-pg/cloudnative-pg
(the release tests/harness/versions.env pins) defines them; test_kit_metric_names.py checks
both against that release."""

PROMETHEUS_METRICS = {"up": "Prometheus: 1 when a target's last scrape succeeded"}

_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "unknown": ("",),
}


def exported_metric_names() -> set[str]:
    """Every series name the receiver's and the plugin server's registries can expose."""
    names: set[str] = set()
    for registry in (ReceiverMetrics().registry, ServerMetrics().registry):
        for family in registry.collect():
            names.update(family.name + s for s in _SAMPLE_SUFFIXES[family.type])
    return names


def allowed_metric_names() -> set[str]:
    return exported_metric_names() | set(CNPG_METRICS) | set(PROMETHEUS_METRICS)


# --- PromQL -------------------------------------------------------------------------------

_KEYWORDS = {
    "and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "inf", "nan",
}  # fmt: skip
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<expr>.*),\s*\w+\s*\)\s*$", re.S)
_STRIPS = (
    re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'),  # strings
    re.compile(r"#[^\n]*"),  # comments
    re.compile(r"\$\{?\w+\}?"),  # Grafana variables
    re.compile(r"\{[^}]*\}"),  # label matchers
    re.compile(r"\[[^\]]*\]"),  # ranges and subqueries
    re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"),
    re.compile(r"\boffset\s+-?\w+"),
    re.compile(r"\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b|\b0x[0-9a-fA-F]+\b"),  # numbers
)
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\(|[a-zA-Z0-9_:])")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression (or Grafana's label_values(expr, label)) selects."""
    match = _LABEL_VALUES.match(expr)
    if match:
        expr = match.group("expr")
    elif expr.strip().startswith("label_values("):
        return set()  # label_values(label): no metric
    for pattern in _STRIPS:
        expr = pattern.sub(" ", expr)
    return {name for name in _NAME.findall(expr) if name not in _KEYWORDS}


# --- the kit's files ------------------------------------------------------------------------


def kit_documents() -> list[Doc]:
    """The objects the kustomization lists, as plain YAML (no kustomize)."""
    kustomization = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    docs: list[Doc] = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((MONITORING / name).read_text()) if d]
    return docs


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"].get("name"))]
    return doc


def rule_groups() -> dict[str, Any]:
    """The PrometheusRule's spec: what promtool reads as a rule file."""
    return dict(one(kit_documents(), "PrometheusRule")["spec"])


def alerting_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups()["groups"] for r in g["rules"] if "alert" in r]


def dashboard() -> dict[str, Any]:
    return dict(json.loads((MONITORING / "grafana-dashboard.json").read_text()))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found += panel.get("panels", [])
    return found


def dashboard_queries(board: dict[str, Any]) -> list[str]:
    """Every panel target's `expr` and every query variable's query."""
    queries = [t["expr"] for p in panels(board) for t in p.get("targets", []) if "expr" in t]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def rules_test_series() -> list[str]:
    """The series selectors the promtool rules test feeds in."""
    cases = yaml.safe_load(RULES_TEST.read_text())["tests"]
    return [s["series"] for case in cases for s in case.get("input_series", [])]
