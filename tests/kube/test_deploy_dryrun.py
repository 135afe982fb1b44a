"""Every install manifest, and every example Cluster, is accepted by a real API server.

The harness API server (Kubernetes pinned in tests/harness/kube/go.mod) gets the CRDs of
cert-manager and CloudNativePG at the releases pinned in tests/harness/versions.env, taken
from their Go modules by `scripts/kube-harness build`. Each object is then created with
server-side dry run and strict field validation, so unknown or misspelt fields, schema
violations and CEL rules in the CRDs all fail the test; nothing is persisted.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml
from support import kubeplane

pytestmark = [pytest.mark.kube, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "cnpg-system"
EXAMPLES_NAMESPACE = "deploy-dryrun-examples"
# kind -> (API path prefix, plural, namespaced)
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Service": ("/api/v1", "services", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Issuer": ("/apis/cert-manager.io/v1", "issuers", True),
    "Certificate": ("/apis/cert-manager.io/v1", "certificates", True),
    "Cluster": ("/apis/postgresql.cnpg.io/v1", "clusters", True),
}


def _load_renderer() -> ModuleType:
    """tests/unit/kustomize_lite.py, loaded by path (tests/unit is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "kustomize_lite", ROOT / "tests" / "unit" / "kustomize_lite.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def api(kube_plane: kubeplane.ControlPlane, cert_manager_crds: list[str]) -> Iterator[httpx.Client]:
    """Admin HTTP client of the session's control plane, with both namespaces present.

    The session plane has CNPG's CRDs; `cert_manager_crds` adds cert-manager's.
    """
    assert "certificates.cert-manager.io" in cert_manager_crds
    with kube_plane.http() as http:
        for namespace in (NAMESPACE, EXAMPLES_NAMESPACE):
            created = http.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
            assert created.status_code in (201, 409), created.text
        yield http
        http.delete(f"/api/v1/namespaces/{EXAMPLES_NAMESPACE}")


def dry_run_create(http: httpx.Client, doc: dict[str, Any], namespace: str) -> httpx.Response:
    prefix, plural, namespaced = RESOURCES[doc["kind"]]
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"
    return http.post(path, params={"dryRun": "All", "fieldValidation": "Strict"}, json=doc)


def test_every_deploy_manifest_is_accepted_by_the_api_server(api: httpx.Client) -> None:
    docs = _load_renderer().render(ROOT / "deploy")
    assert {d["kind"] for d in docs} == set(RESOURCES) - {"Cluster"}
    for doc in docs:
        response = dry_run_create(api, doc, NAMESPACE)
        assert response.status_code == 201, (
            f"{doc['kind']}/{doc['metadata']['name']}: {response.text}"
        )
        echoed = response.json()
        assert echoed["metadata"]["name"] == doc["metadata"]["name"]
        if RESOURCES[doc["kind"]][2]:
            assert echoed["metadata"]["namespace"] == NAMESPACE


def test_dry_run_rejects_a_misspelt_certificate_field(api: httpx.Client) -> None:
    docs = _load_renderer().render(ROOT / "deploy")
    (server,) = [d for d in docs if d["metadata"]["name"] == "cnpg-wal-replica-server"]
    broken = {**server, "spec": {**server["spec"], "dnsName": ["typo"]}}
    response = dry_run_create(api, broken, NAMESPACE)
    assert response.status_code >= 400
    assert "dnsName" in response.text


def test_nothing_was_persisted(api: httpx.Client) -> None:
    for doc in _load_renderer().render(ROOT / "deploy"):
        prefix, plural, namespaced = RESOURCES[doc["kind"]]
        base = f"{prefix}/namespaces/{NAMESPACE}/{plural}" if namespaced else f"{prefix}/{plural}"
        found = api.get(f"{base}/{doc['metadata']['name']}")
        if doc["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
            continue  # the session's plugin-client fixture creates these for real
        assert found.status_code == 404, f"{doc['kind']} {doc['metadata']['name']} exists"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("cluster-*.yaml")), ids=lambda p: p.name
)
def test_example_clusters_are_accepted_by_the_cnpg_crd(api: httpx.Client, path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    response = dry_run_create(api, doc, EXAMPLES_NAMESPACE)
    assert response.status_code == 201, f"{path.name}: {response.text}"
    plugins = response.json()["spec"]["plugins"]
    assert plugins[0]["name"] == "cnpg-i-wal-replica.documentdb.io"


def test_cnpg_refuses_the_receiver_in_standby_names_with_preferred_durability(
    api: httpx.Client,
) -> None:
    """Why docs/usage.md insists on dataDurability: required."""
    doc = yaml.safe_load((ROOT / "examples" / "cluster-synchronous.yaml").read_text())
    doc["spec"]["postgresql"]["synchronous"]["dataDurability"] = "preferred"
    response = dry_run_create(api, doc, EXAMPLES_NAMESPACE)
    assert response.status_code == 422, response.text
    assert "standbyNames" in response.text
