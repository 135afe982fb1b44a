"""`kubectl apply -k monitoring/` is accepted by a real API server with the Prometheus
Operator's CRDs (the release tests/harness/versions.env pins), with server-side dry run and
strict field validation: a misspelt or misplaced field in a PodMonitor or the PrometheusRule
fails here, not in the user's cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from support import harnesspaths, helmchart, kubeplane
from support.kube_fixtures import install_pinned_crds, skip_or_fail
from support.kustomize import kubectl
from support.monitoring import MONITORING, kit_documents, one

pytestmark = [pytest.mark.kube, pytest.mark.slow]

NAMESPACE = "cnpg-system"
KINDS = ("podmonitors", "prometheusrules")


@pytest.fixture(scope="module")
def kubeconfig(kube_plane: kubeplane.ControlPlane) -> Path:
    """The plane with the PodMonitor and PrometheusRule CRDs, and the kit's namespace."""
    files = tuple(f"monitoring.coreos.com_{kind}.yaml" for kind in KINDS)
    installed = install_pinned_crds(kube_plane, "prometheus-operator", files)
    assert set(installed) == {f"{kind}.monitoring.coreos.com" for kind in KINDS}
    with kube_plane.http() as http:
        created = http.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        )
        assert created.status_code in (201, 409), created.text
    return kube_plane.admin_kubeconfig


def apply(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl(), "--kubeconfig", str(kubeconfig), "apply", "--dry-run=server",
         "--validate=strict", *args],
        input=stdin, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_kubectl_apply_k_accepts_the_kit(kubeconfig: Path) -> None:
    done = apply(kubeconfig, "-k", str(MONITORING))
    assert done.returncode == 0, done.stderr
    for doc in kit_documents():
        kind = {"PodMonitor": "podmonitor.monitoring.coreos.com"}.get(doc["kind"], "")
        if kind:
            assert f"{kind}/{doc['metadata']['name']} created (server dry run)" in done.stdout
    assert "prometheusrule.monitoring.coreos.com/cnpg-wal-replica created" in done.stdout
    assert "configmap/cnpg-wal-replica-grafana-dashboard created" in done.stdout


def test_a_misspelt_podmonitor_field_is_refused(kubeconfig: Path) -> None:
    monitor = one(kit_documents(), "PodMonitor", "cnpg-wal-replica-receivers")
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    endpoint["honourLabels"] = True  # the field is honorLabels
    monitor["metadata"]["namespace"] = NAMESPACE
    done = apply(kubeconfig, "-f", "-", stdin=yaml.safe_dump(monitor))
    assert done.returncode != 0
    assert "honourLabels" in done.stderr


def test_the_chart_renders_a_kit_the_api_server_accepts(kubeconfig: Path) -> None:
    """`helm install --set monitoring.enabled=true` would apply these objects."""
    try:
        harnesspaths.helm()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
    values = {"monitoring": {"enabled": True, "labels": {"release": "prometheus"}}}
    docs = helmchart.template(values, namespace=NAMESPACE)
    kit = [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
           == "monitoring"]  # fmt: skip
    assert sorted(d["kind"] for d in kit) == ["ConfigMap", "PodMonitor", "PodMonitor",
                                             "PrometheusRule"]  # fmt: skip
    done = apply(kubeconfig, "-f", "-", stdin=yaml.safe_dump_all(kit))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("created (server dry run)") == len(kit)
