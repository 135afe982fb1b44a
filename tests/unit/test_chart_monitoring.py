"""The chart's monitoring values: `monitoring.enabled` installs the kit of monitoring/.

With the flag the chart renders the PodMonitors, the PrometheusRule and the dashboard's
ConfigMap whose specs and data equal what `kubectl apply -k monitoring/` applies (compared
parsed), in the release's namespace, with the chart's labels and `monitoring.labels`.
Without it, none of them. helm is the one the harness builds (tests/harness/helm).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support import harnesspaths, helmchart
from support.kube_fixtures import skip_or_fail
from support.monitoring import kit_documents

Doc = dict[str, Any]
KIT_KINDS = {"PodMonitor", "PrometheusRule"}
DASHBOARD = "cnpg-wal-replica-grafana-dashboard"


@pytest.fixture(scope="module", autouse=True)
def _helm() -> None:
    try:
        harnesspaths.helm()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))


def kit(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    """The monitoring objects among *docs*, by kind and name."""
    return {
        (d["kind"], d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in KIT_KINDS or d["metadata"]["name"] == DASHBOARD
    }


def test_the_default_installs_no_monitoring() -> None:
    assert kit(helmchart.template()) == {}


def test_the_flag_installs_the_kit_as_monitoring_holds_it() -> None:
    rendered = kit(helmchart.template({"monitoring": {"enabled": True}}, namespace="ops"))
    expected = kit(kit_documents())
    assert rendered.keys() == expected.keys()
    for key, doc in rendered.items():
        assert doc["metadata"]["namespace"] == "ops", key
        labels = doc["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "monitoring", key
        assert labels["app.kubernetes.io/instance"] == helmchart.RELEASE, key
        if key[1] == DASHBOARD:
            assert labels["grafana_dashboard"] == "1"
            (text,) = doc["data"].values()
            (want,) = expected[key]["data"].values()
            assert json.loads(text) == json.loads(want)
        else:
            assert doc["spec"] == expected[key]["spec"], key


def test_labels_and_the_dashboard_namespace_are_values() -> None:
    values = {
        "monitoring": {
            "enabled": True,
            "labels": {"release": "prometheus"},
            "grafanaDashboard": {"namespace": "grafana"},
        }
    }
    rendered = kit(helmchart.template(values))
    assert all(d["metadata"]["labels"]["release"] == "prometheus" for d in rendered.values())
    namespaces = {key: d["metadata"]["namespace"] for key, d in rendered.items()}
    assert namespaces.pop(("ConfigMap", DASHBOARD)) == "grafana"
    assert set(namespaces.values()) == {helmchart.NAMESPACE}


def test_the_dashboard_can_be_left_out() -> None:
    values = {"monitoring": {"enabled": True, "grafanaDashboard": {"enabled": False}}}
    rendered = kit(helmchart.template(values))
    assert {kind for kind, _ in rendered} == KIT_KINDS


@pytest.mark.parametrize(
    ("monitoring", "named"),
    [
        ({"enabled": "yes"}, "/monitoring/enabled': got string, want boolean"),
        ({"enabled": True, "labels": {"app.kubernetes.io/name": "x"}}, "app.kubernetes.io~1name"),
        ({"enabled": True, "grafanaDashboard": {"namespace": "N_"}}, "grafanaDashboard/namespace"),
        ({"enabled": True, "grafanadashboard": {}}, "grafanadashboard"),
    ],
)
def test_bad_monitoring_values_are_refused_by_name(monitoring: dict[str, Any], named: str) -> None:
    """helm names the value by its JSON pointer (``/`` in a key written ``~1``)."""
    with pytest.raises(helmchart.HelmError) as refused:
        helmchart.template({"monitoring": monitoring})
    assert named in str(refused.value)
