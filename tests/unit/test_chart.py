"""The Helm chart (charts/cnpg-wal-replica) against deploy/, the one source of its objects.

`helm template` with the default values, release cnpg-wal-replica in cnpg-system, must
render exactly the objects `kubectl kustomize deploy/` does, compared parsed, object by
object and field by field. Two differences are allowed, and nothing else:

- Helm's four standard labels on every object's `metadata.labels` (`helm.sh/chart`,
  `app.kubernetes.io/managed-by`, `app.kubernetes.io/instance`, `app.kubernetes.io/version`),
  with exactly the values below; selectors and pod templates carry none of them.
- kustomize writes `metadata.namespace` into the cluster-scoped kinds its schema does not
  know (`NAMESPACED_BY_KUSTOMIZE`), which the API server drops; Helm writes none.

The other tests render non-default values and check the objects they change. Both binaries
are the real ones the harness builds (helm from tests/harness/helm, kubectl's kustomize).
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from chartvalues import documented_keys
from support import harnesspaths, helmchart
from support.kube_fixtures import skip_or_fail
from support.kustomize import NAMESPACED_BY_KUSTOMIZE, KustomizeMissing, kubectl, render

from cnpg_wal_replica import metadata

ROOT = harnesspaths.REPO_ROOT
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
HELM_LABELS = {
    "helm.sh/chart": f"cnpg-wal-replica-{VERSION}",
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/instance": helmchart.RELEASE,
    "app.kubernetes.io/version": VERSION,
}
"""What Helm's convention adds to every object's labels (and what the test allows)."""

Doc = dict[str, Any]
Key = tuple[str, str, str]


@pytest.fixture(scope="module", autouse=True)
def _binaries() -> None:
    """helm and kubectl as the harness builds them; missing: skip, or fail with CI=true."""
    try:
        harnesspaths.helm()
        kubectl()
    except (harnesspaths.HarnessMissing, KustomizeMissing) as missing:
        skip_or_fail(str(missing))


@pytest.fixture(scope="module")
def default_docs() -> list[Doc]:
    return helmchart.template()


def identity(doc: Doc) -> Key:
    return (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])


def kustomize_objects() -> dict[Key, Doc]:
    """deploy/ as kustomize renders it, without the namespaces the API server drops."""
    objects = {}
    for doc in render(ROOT / "deploy"):
        if doc["kind"] in NAMESPACED_BY_KUSTOMIZE:
            doc["metadata"].pop("namespace", None)
        objects[identity(doc)] = doc
    return objects


def without_helm_labels(doc: Doc) -> Doc:
    """`doc` without Helm's standard labels, which must all be there with their values."""
    stripped = copy.deepcopy(doc)
    labels = stripped["metadata"]["labels"]
    for key, value in HELM_LABELS.items():
        assert labels.pop(key, None) == value, f"{identity(doc)}: label {key} is not {value}"
    return stripped


def differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Paths where two parsed documents differ, with both values."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            found
            for key in sorted(set(left) | set(right))
            for found in differences(left.get(key), right.get(key), f"{path}.{key}")
        ]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True)) for d in
                differences(a, b, f"{path}[{i}]")]  # fmt: skip
    return [] if left == right else [f"{path}: deploy/ {left!r}, chart {right!r}"]


def test_default_values_render_exactly_what_deploy_does(default_docs: list[Doc]) -> None:
    expected = kustomize_objects()
    rendered = {identity(d): without_helm_labels(d) for d in default_docs}
    assert len(rendered) == len(default_docs), "the chart renders an object twice"
    assert sorted(rendered) == sorted(expected)
    drift = {key: differences(expected[key], rendered[key]) for key in expected}
    assert not {key: found for key, found in drift.items() if found}


def test_the_comparison_sees_a_changed_field(default_docs: list[Doc]) -> None:
    """The check above is not vacuous: one changed value in a deep list is reported."""
    deployment = next(d for d in kustomize_objects().values() if d["kind"] == "Deployment")
    changed = copy.deepcopy(deployment)
    changed["spec"]["template"]["spec"]["containers"][0]["args"][1] = "--server-cert=/x"
    assert differences(deployment, changed) == [
        ".spec.template.spec.containers[0].args[1]: "
        "deploy/ '--server-cert=/server/tls.crt', chart '--server-cert=/x'"
    ]


def test_chart_version_is_the_projects() -> None:
    chart = yaml.safe_load((helmchart.CHART / "Chart.yaml").read_text())
    assert chart["version"] == chart["appVersion"] == VERSION == metadata.VERSION


def test_helm_lint_strict_passes() -> None:
    out = helmchart.run(["lint", "--strict", str(helmchart.CHART), "--namespace", "cnpg-system"])
    assert "1 chart(s) linted, 0 chart(s) failed" in out


# --- non-default values -------------------------------------------------------------------

CUSTOM = {
    "image": {"repository": "registry.example/wal", "tag": "9.9.9", "pullPolicy": "Always"},
    "replicaCount": 3,
    # limits.cpu is left out: Helm keeps the default's
    "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}, "limits": {"memory": "1Gi"}},
    "nodeSelector": {"kubernetes.io/os": "linux", "pool": "system"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops",
                     "effect": "NoSchedule"}],
    "priorityClassName": "system-cluster-critical",
    "commonLabels": {"team": "data", "cost-center": "42"},
    "commonAnnotations": {"owner": "dba@example.com"},
    "podLabels": {"sidecar.istio.io/inject": "false"},
    "podAnnotations": {"prometheus.io/scrape": "false"},
    "receiver": {"image": "registry.example/receiver:1.2"},
    "admissionPolicy": {"extraImages": ["registry.example/other:3"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def custom_docs() -> list[Doc]:
    return helmchart.template(CUSTOM)


def one(docs: list[Doc], kind: str, name: str = "cnpg-wal-replica") -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def policy_variables(docs: list[Doc], name: str = "cnpg-wal-replica") -> dict[str, str]:
    spec = one(docs, "ValidatingAdmissionPolicy", name)["spec"]
    return {v["name"]: v["expression"] for v in spec["variables"]}


def test_custom_values_reach_the_plugin_server(custom_docs: list[Doc]) -> None:
    deployment = one(custom_docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == env["PLUGIN_IMAGE"] == "registry.example/wal:9.9.9"
    assert container["imagePullPolicy"] == "Always"
    assert env["RECEIVER_IMAGE"] == "registry.example/receiver:1.2"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "200Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},  # Helm merges values into the defaults
    }
    assert pod["nodeSelector"] == CUSTOM["nodeSelector"]
    assert pod["tolerations"] == CUSTOM["tolerations"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert deployment["spec"]["template"]["metadata"]["annotations"] == CUSTOM["podAnnotations"]


def test_the_admission_policy_allows_the_images_the_values_name(custom_docs: list[Doc]) -> None:
    variables = policy_variables(custom_docs)
    assert variables["pluginImage"] == "'registry.example/wal:9.9.9'"
    assert variables["extraImages"] == (
        "['registry.example/receiver:1.2', 'registry.example/other:3']"
    )


def test_extra_labels_reach_every_object_but_no_selector(custom_docs: list[Doc]) -> None:
    for doc in custom_docs:
        labels = doc["metadata"]["labels"]
        assert {"team": "data", "cost-center": "42"}.items() <= labels.items(), identity(doc)
        assert labels["app.kubernetes.io/name"] == "cnpg-wal-replica"
        assert doc["metadata"]["annotations"]["owner"] == "dba@example.com", identity(doc)
    deployment = one(custom_docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {
        "app.kubernetes.io/name": "cnpg-wal-replica",
        "app.kubernetes.io/component": "plugin-server",
        "team": "data",
        "cost-center": "42",
        "sidecar.istio.io/inject": "false",
    }
    selector = {"app.kubernetes.io/name": "cnpg-wal-replica",
                "app.kubernetes.io/component": "plugin-server"}  # fmt: skip
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert one(custom_docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    assert one(custom_docs, "Service")["spec"]["selector"] == selector
    assert one(custom_docs, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"] == selector
    service = one(custom_docs, "Service")["metadata"]
    assert service["annotations"]["cnpg.io/pluginPort"] == "9090", "discovery kept"
    assert service["labels"]["cnpg.io/pluginName"] == metadata.PLUGIN_NAME


def test_custom_core_objects_pass_kubernetes_validate_strict(custom_docs: list[Doc]) -> None:
    for doc in custom_docs:
        if not doc["apiVersion"].startswith("cert-manager.io/"):
            kubernetes_validate.validate(doc, "1.34", strict=True)


def test_another_release_and_namespace_keep_every_reference_consistent() -> None:
    docs = helmchart.template(release="wal", namespace="postgres-operator")
    name = "wal-cnpg-wal-replica"
    service = one(docs, "Service", name)
    annotations = service["metadata"]["annotations"]
    server = one(docs, "Certificate", f"{name}-server")["spec"]
    client = one(docs, "Certificate", f"{name}-client")["spec"]
    assert server["dnsNames"] == [name]
    assert annotations["cnpg.io/pluginServerSecret"] == server["secretName"]
    assert annotations["cnpg.io/pluginClientSecret"] == client["secretName"]
    assert server["issuerRef"]["name"] == client["issuerRef"]["name"] == f"{name}-selfsigned"
    pod = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {server["secretName"], client["secretName"]}
    binding = one(docs, "ClusterRoleBinding", name)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": "postgres-operator"}
    ]
    assert binding["roleRef"]["name"] == one(docs, "ClusterRole", name)["metadata"]["name"]
    user = f"system:serviceaccount:postgres-operator:{name}"
    condition = one(docs, "ValidatingAdmissionPolicy", name)["spec"]["matchConditions"][0]
    assert condition["expression"] == f"request.userInfo.username == '{user}'"
    assert policy_variables(docs, f"{name}-wal-ca")["pluginUser"] == f"'{user}'"
    assert one(docs, "ValidatingAdmissionPolicyBinding", name)["spec"]["policyName"] == name
    # The WAL CA keeps the name the plugin asks for, in cert-manager's namespace.
    assert one(docs, "ClusterIssuer", "cnpg-wal-replica-wal-ca")["spec"]["ca"]
    ca = one(docs, "Certificate", "cnpg-wal-replica-wal-ca")["metadata"]
    assert ca["namespace"] == "cert-manager"
    for doc in docs:
        if "namespace" in doc["metadata"] and doc["metadata"]["name"] != "cnpg-wal-replica-wal-ca":
            assert doc["metadata"]["namespace"] == "postgres-operator", identity(doc)


def test_an_issuer_of_your_own_signs_both_certificates() -> None:
    issuer = {"name": "corp-ca", "kind": "ClusterIssuer"}
    docs = helmchart.template({"certManager": {"issuerRef": issuer}})
    assert not [d for d in docs if d["kind"] == "Issuer"], "no self-signed Issuer then"
    for role in ("server", "client"):
        spec = one(docs, "Certificate", f"cnpg-wal-replica-{role}")["spec"]
        assert spec["issuerRef"] == {**issuer, "group": "cert-manager.io"}
    default = one(helmchart.template(), "Deployment")["spec"]["template"]["spec"]
    assert one(docs, "Deployment")["spec"]["template"]["spec"] == default, (
        "the plugin still trusts exactly the operator's certificate (the client Secret's "
        "tls.crt, tests/grpc/test_plugin_tls.py), never the issuer's CA or the key"
    )


def test_optional_objects_can_be_left_out() -> None:
    docs = helmchart.template(
        {"networkPolicy": {"enabled": False}, "podDisruptionBudget": {"enabled": False}}
    )
    kinds = {d["kind"] for d in docs}
    assert "NetworkPolicy" not in kinds
    assert "PodDisruptionBudget" not in kinds
    assert "Deployment" in kinds


# --- values that fail, and how -----------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"image": {"tag": "1.0'; evil"}}, "/image/tag"),
        ({"receiver": {"image": "x' || true || '"}}, "/receiver/image"),
        ({"admissionPolicy": {"extraImages": ["a b"]}}, "/admissionPolicy/extraImages/0"),
        ({"commonLabels": {"app.kubernetes.io/name": "x"}}, "/commonLabels/app.kubernetes.io~1"),
        # helm 4.3.2 names the wrong key for a bad property name, but quotes the name:
        ({"podLabels": {"Bad Label": "x"}}, "invalid propertyName 'Bad Label'"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "/resources/requests/cpu"),
        ({"certManager": {"issuerRef": {"name": "x"}}}, "/certManager/issuerRef"),
        ({"extraEnv": [{"name": "PLUGIN_IMAGE", "value": "x"}]}, "/extraEnv/0/name"),
        ({"replicaCount": 1}, "would block every node drain"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else "",
)
def test_bad_values_fail_with_the_values_path(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helmchart.HelmError) as failed:
        helmchart.template(values)
    assert message in failed.value.stderr


def test_one_replica_renders_without_a_disruption_budget() -> None:
    docs = helmchart.template({"replicaCount": 1, "podDisruptionBudget": {"enabled": False}})
    assert one(docs, "Deployment")["spec"]["replicas"] == 1


def test_every_value_is_documented() -> None:
    """Each key of values.yaml has a `# --` line, itself or every key under it."""
    text = (helmchart.CHART / "values.yaml").read_text()
    documented = {key for key, _ in documented_keys(text)}
    values = yaml.safe_load(text)

    def covered(key: str, value: Any) -> bool:
        if key in documented:
            return True
        return (
            isinstance(value, dict)
            and bool(value)
            and all(covered(f"{key}.{child}", v) for child, v in value.items())
        )

    assert [key for key, value in values.items() if not covered(key, value)] == []
    schema = json.loads((helmchart.CHART / "values.schema.json").read_text())
    assert set(schema["properties"]) == set(values)


def test_chart_readme_links_to_the_installation_guide() -> None:
    assert "../../docs/installation.md" in Path(helmchart.CHART / "README.md").read_text()


@pytest.mark.parametrize("page", [helmchart.CHART / "README.md", ROOT / "docs/installation.md"])
def test_documented_helm_commands_name_this_version(page: Path) -> None:
    versions = re.findall(r"--version (\S+)", page.read_text())
    assert versions, f"{page.name} shows no helm install --version"
    assert set(versions) - {"<new>"} == {VERSION}


def test_install_notes_name_the_release_objects() -> None:
    notes = helmchart.run(["install", "wal", str(helmchart.CHART), "--dry-run=client",
                           "--namespace", "postgres-operator"])  # fmt: skip
    assert "kubectl -n postgres-operator rollout status deployment/wal-cnpg-wal-replica" in notes
    assert "certificate/wal-cnpg-wal-replica-server" in notes
