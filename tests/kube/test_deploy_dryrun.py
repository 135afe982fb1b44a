"""Every install manifest, and every example Cluster, is accepted by a real API server.

The harness API server (Kubernetes pinned in tests/harness/kube/go.mod) gets the CRDs of
cert-manager and CloudNativePG at the releases pinned in tests/harness/versions.env, taken
from their Go modules by `scripts/kube-harness build`. Each object is then created with
server-side dry run and strict field validation, so unknown or misspelt fields, schema
violations and CEL rules in the CRDs all fail the test; nothing is persisted.

The objects are sent as a server-side apply (what `kubectl apply --server-side` does), not a
create: the answer must not depend on whether an earlier test (the session's plugin identity,
`kube_fixtures.plugin_kubeconfig`) already created the ServiceAccount or the ClusterRole.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import release_manifest
import yaml
from support import harnesspaths, kubeobjects, kubeplane, kustomize
from support.kube_fixtures import skip_or_fail
from support.kubepaths import RESOURCES, object_path

pytestmark = [pytest.mark.kube, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "cnpg-system"
CERT_MANAGER_NAMESPACE = "cert-manager"
"""Where deploy/ puts the WAL CA's Certificate (cert-manager's cluster resource namespace)."""
EXAMPLES_NAMESPACE = "deploy-dryrun-examples"


@pytest.fixture(scope="module")
def api(
    kube_plane: kubeplane.ControlPlane, cert_manager_crds: list[str], plugin_kubeconfig: str
) -> Iterator[httpx.Client]:
    """Admin HTTP client of the session's control plane, with both namespaces present.

    The session plane has CNPG's CRDs; `cert_manager_crds` adds cert-manager's. The plugin's
    ServiceAccount and ClusterRole exist for real (`plugin_kubeconfig`), as they do whenever
    another Kubernetes test ran first: the dry run must be accepted all the same.
    """
    assert "certificates.cert-manager.io" in cert_manager_crds
    with kube_plane.http() as http:
        for namespace in (NAMESPACE, CERT_MANAGER_NAMESPACE, EXAMPLES_NAMESPACE):
            created = http.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
            )
            assert created.status_code in (201, 409), created.text
        yield http
        http.delete(f"/api/v1/namespaces/{EXAMPLES_NAMESPACE}")


def dry_run_apply(http: httpx.Client, doc: dict[str, Any], namespace: str) -> httpx.Response:
    """Server-side apply with dry run and strict field validation: 201 new, 200 existing."""
    return http.patch(
        object_path(doc, namespace),
        params={
            "dryRun": "All",
            "fieldValidation": "Strict",
            "fieldManager": "deploy-dryrun",
            "force": "true",
        },
        content=json.dumps(doc),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )


def namespace_of(doc: dict[str, Any]) -> str:
    """The operator's namespace, but for the WAL CA that deploy/ puts into cert-manager's."""
    if (doc["kind"], doc["metadata"]["name"]) == ("Certificate", "cnpg-wal-replica-wal-ca"):
        return CERT_MANAGER_NAMESPACE
    return NAMESPACE


def stored_versions(http: httpx.Client, docs: list[dict[str, Any]]) -> dict[str, str | None]:
    """Each object's resourceVersion on the server, None where it does not exist."""
    versions: dict[str, str | None] = {}
    for doc in docs:
        path = object_path(doc, namespace_of(doc))
        found = http.get(path)
        assert found.status_code in (200, 404), found.text
        versions[path] = found.json()["metadata"]["resourceVersion"] if found.is_success else None
    return versions


def one_of(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def test_every_deploy_manifest_is_accepted_by_the_api_server(api: httpx.Client) -> None:
    docs = kubeobjects.rendered_deploy()
    assert {d["kind"] for d in docs} == set(RESOURCES) - {"Cluster"}
    before = stored_versions(api, docs)
    assert before[object_path(one_of(docs, "ServiceAccount"), NAMESPACE)] is not None, (
        "the plugin identity exists, as after any other Kubernetes test"
    )
    for doc in docs:
        response = dry_run_apply(api, doc, namespace_of(doc))
        assert response.status_code in (200, 201), (
            f"{doc['kind']}/{doc['metadata']['name']}: {response.text}"
        )
        echoed = response.json()
        assert echoed["metadata"]["name"] == doc["metadata"]["name"]
        if RESOURCES[doc["kind"]][2]:
            assert echoed["metadata"]["namespace"] == namespace_of(doc)
    assert stored_versions(api, docs) == before, "a dry run persisted or changed something"


def kubectls() -> list[str]:
    """The node's kubectl (what the e2e suite applies deploy/ with) and the one on PATH."""
    found = [str(path) for path in (shutil.which("kubectl"),) if path]
    try:
        node = harnesspaths.node_binaries().kubectl
    except harnesspaths.HarnessMissing:
        return found
    return [*found, str(node)] if node.is_file() else found


@pytest.mark.parametrize("kubectl", kubectls())
def test_kubectl_apply_k_accepts_deploy(
    api: httpx.Client, kube_plane: kubeplane.ControlPlane, kubectl: str
) -> None:
    """What the e2e suite and a user run, `kubectl apply -k deploy/`, with server dry run.

    kubectl's kustomize gives the admission policy and its binding a namespace (its schema
    predates them); the API server must drop it for these cluster-scoped kinds.
    """
    done = subprocess.run(
        [kubectl, "--kubeconfig", str(kube_plane.admin_kubeconfig), "apply", "--dry-run=server",
         "-k", str(ROOT / "deploy")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "validatingadmissionpolicy.admissionregistration.k8s.io/cnpg-wal-replica" in done.stdout
    assert "networkpolicy.networking.k8s.io/cnpg-wal-replica" in done.stdout


def test_kubectl_apply_f_accepts_the_release_manifest(
    api: httpx.Client, kube_plane: kubeplane.ControlPlane, tmp_path: Path
) -> None:
    """`make manifest`'s file, as a user applies it: `kubectl apply -f manifest.yaml`."""
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(release_manifest.render("registry.example/wal:9.9.9"))
    done = subprocess.run(
        [kustomize.kubectl(), "--kubeconfig", str(kube_plane.admin_kubeconfig),
         "apply", "--dry-run=server", "-f", str(manifest)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    applied = {line.split()[0] for line in done.stdout.splitlines()}
    assert len(applied) == len(kubeobjects.rendered_deploy()), done.stdout


def test_dry_run_rejects_a_misspelt_certificate_field(api: httpx.Client) -> None:
    docs = kubeobjects.rendered_deploy()
    (server,) = [d for d in docs if d["metadata"]["name"] == "cnpg-wal-replica-server"]
    broken = {**server, "spec": {**server["spec"], "dnsName": ["typo"]}}
    response = dry_run_apply(api, broken, NAMESPACE)
    assert response.status_code >= 400
    assert "dnsName" in response.text


def test_network_policy_selects_the_pinned_operators_pods() -> None:
    """The operator the harness installs (tests/harness/versions.env) is the one it admits.

    Its `config/default` puts it in our namespace, and the Deployment's pod template there
    carries every label the NetworkPolicy's `from` selector asks for.
    """
    try:
        config = harnesspaths.cnpg_module_dir() / "config"
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise
    docs = kubeobjects.rendered_deploy()
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    (rule,) = [r for r in policy["spec"]["ingress"] if "podSelector" in r["from"][0]]
    (peer,) = rule["from"]
    selector = peer["podSelector"]["matchLabels"]
    (operator,) = [
        d
        for d in yaml.safe_load_all((config / "manager" / "manager.yaml").read_text())
        if d and d["kind"] == "Deployment"
    ]
    assert selector.items() <= operator["spec"]["template"]["metadata"]["labels"].items()
    default = yaml.safe_load((config / "default" / "kustomization.yaml").read_text())
    assert default["namespace"] == policy["metadata"]["namespace"] == NAMESPACE


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("cluster-*.yaml")), ids=lambda p: p.name
)
def test_example_clusters_are_accepted_by_the_cnpg_crd(api: httpx.Client, path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    response = dry_run_apply(api, doc, EXAMPLES_NAMESPACE)
    assert response.status_code == 201, f"{path.name}: {response.text}"
    plugins = response.json()["spec"]["plugins"]
    assert plugins[0]["name"] == "cnpg-i-wal-replica.documentdb.io"


def test_cnpg_refuses_the_receiver_in_standby_names_with_preferred_durability(
    api: httpx.Client,
) -> None:
    """Why docs/usage.md insists on dataDurability: required."""
    doc = yaml.safe_load((ROOT / "examples" / "cluster-synchronous.yaml").read_text())
    doc["spec"]["postgresql"]["synchronous"]["dataDurability"] = "preferred"
    response = dry_run_apply(api, doc, EXAMPLES_NAMESPACE)
    assert response.status_code == 422, response.text
    assert "standbyNames" in response.text
