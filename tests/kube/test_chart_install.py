"""`helm install`, `helm upgrade` and `helm uninstall` of the chart against a real API server.

The plane is this module's own (kube-apiserver, etcd and controller manager on 127.0.0.1,
with CloudNativePG's and cert-manager's CRDs), not the session's: the chart's cluster-wide
objects (the ClusterRole cnpg-wal-replica, the admission policies that govern the plugin's
ServiceAccount, the WAL CA's ClusterIssuer) must not meet the plugin identity and policies
other tests install. No node runs, so nothing is scheduled: the test checks what Helm
writes (helm's default wait strategy waits for hooks only, and the chart has none).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import harnesspaths, helmchart, kubeplane
from support.kube_fixtures import skip_or_fail
from support.kubepaths import object_path

pytestmark = [pytest.mark.kube, pytest.mark.slow]

NAMESPACE = helmchart.NAMESPACE
RELEASE = helmchart.RELEASE


@pytest.fixture(scope="module")
def plane() -> Iterator[kubeplane.ControlPlane]:
    try:
        harnesspaths.helm()
        crds = [*harnesspaths.crd_files("cloudnative-pg"), *harnesspaths.crd_files("cert-manager")]
        started = kubeplane.start(crd_files=crds)
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(f"Kubernetes test harness not built: {missing}")
        raise
    try:
        with started.http() as http:
            created = http.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "cert-manager"}},
            )  # fmt: skip
            assert created.status_code == 201, created.text
        yield started
    finally:
        started.stop()


def helm(plane: kubeplane.ControlPlane, *args: str) -> str:
    return helmchart.run([*args, "--namespace", NAMESPACE], kubeconfig=plane.admin_kubeconfig)


def namespace_of(doc: dict[str, Any]) -> str:
    return str(doc["metadata"].get("namespace", NAMESPACE))


def contains(stored: Any, rendered: Any, path: str = "") -> list[str]:
    """Where `stored` (what the API server returns) lacks or changes a field of `rendered`."""
    if isinstance(rendered, dict):
        if not isinstance(stored, dict):
            return [f"{path}: {stored!r} is not a mapping"]
        return [m for k, v in rendered.items() for m in contains(stored.get(k), v, f"{path}.{k}")]
    if isinstance(rendered, list):
        if not isinstance(stored, list) or len(stored) != len(rendered):
            return [f"{path}: {stored!r} != {rendered!r}"]
        return [m for i, (s, r) in enumerate(zip(stored, rendered, strict=True))
                for m in contains(s, r, f"{path}[{i}]")]  # fmt: skip
    return [] if stored == rendered else [f"{path}: stored {stored!r}, rendered {rendered!r}"]


def stored(http: httpx.Client, doc: dict[str, Any]) -> httpx.Response:
    return http.get(object_path(doc, namespace_of(doc)))


def test_install_upgrade_uninstall(plane: kubeplane.ControlPlane) -> None:
    rendered = helmchart.template()
    assert len(rendered) == 17
    out = helm(plane, "install", RELEASE, str(helmchart.CHART), "--create-namespace")
    assert "STATUS: deployed" in out
    with plane.http() as http:
        for doc in rendered:
            found = stored(http, doc)
            assert found.status_code == 200, f"{doc['kind']}/{doc['metadata']['name']}: {found}"
            body = found.json()
            assert contains(body, doc) == [], f"{doc['kind']}/{doc['metadata']['name']}"
            assert body["metadata"]["annotations"]["meta.helm.sh/release-name"] == RELEASE
            assert body["metadata"]["annotations"]["meta.helm.sh/release-namespace"] == NAMESPACE
        ca = http.get(
            "/apis/cert-manager.io/v1/namespaces/cert-manager/certificates/cnpg-wal-replica-wal-ca"
        )
        assert ca.status_code == 200, "the WAL CA's Certificate is in cert-manager's namespace"

        assert helm(plane, "list", "--short", "--deployed").split() == [RELEASE]

        upgraded = helmchart.template({"replicaCount": 3, "image": {"tag": "0.1.1"}})
        helm(plane, "upgrade", RELEASE, str(helmchart.CHART),
             "--set", "replicaCount=3", "--set", "image.tag=0.1.1")  # fmt: skip
        deployment = next(d for d in upgraded if d["kind"] == "Deployment")
        body = stored(http, deployment).json()
        assert body["spec"]["replicas"] == 3
        (container,) = body["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "ghcr.io/documentdb/cnpg-wal-replica:0.1.1"
        assert {"name": "PLUGIN_IMAGE", "value": container["image"]} in container["env"]
        policy = next(d for d in upgraded if d["kind"] == "ValidatingAdmissionPolicy"
                      and d["metadata"]["name"] == RELEASE)  # fmt: skip
        spec = stored(http, policy).json()["spec"]
        variables = {v["name"]: v["expression"] for v in spec["variables"]}
        assert variables["pluginImage"] == "'ghcr.io/documentdb/cnpg-wal-replica:0.1.1'"

        helm(plane, "uninstall", RELEASE)
        deadline = time.monotonic() + 30
        left = rendered
        while left and time.monotonic() < deadline:
            left = [d for d in left if stored(http, d).status_code != 404]
            time.sleep(0.2)
        assert [f"{d['kind']}/{d['metadata']['name']}" for d in left] == []
        history = http.get(
            f"/api/v1/namespaces/{NAMESPACE}/secrets", params={"labelSelector": "owner=helm"}
        )
        assert history.json()["items"] == [], "helm's release records go too"
    assert helm(plane, "list", "--short", "--uninstalled", "--deployed", "--failed") == ""
