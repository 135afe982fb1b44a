"""The install manifests in deploy/: schema-valid, consistent with each other and least-privilege.

Core kinds are validated against the Kubernetes 1.34 schemas (kubernetes-validate, strict);
cert-manager kinds, which have no schema there, are checked structurally here and against
the real CRDs in tests/kube/test_deploy_dryrun.py.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.kustomize import (
    CLUSTER_SCOPED_KINDS,
    NAMESPACED_BY_KUSTOMIZE,
    Doc,
    render,
    require_kubectl,
)

from cnpg_wal_replica import metadata
from cnpg_wal_replica._pb import identity_pb2

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.34"
NAMESPACE = "cnpg-system"
IMAGE_REPOSITORY = "ghcr.io/documentdb/cnpg-wal-replica"

EXPECTED_RULES = {
    ("apps", "deployments"): {"get", "list", "watch", "create", "patch", "delete"},
    ("", "persistentvolumeclaims"): {"get", "list", "watch", "create", "patch"},
    ("", "events"): {"create"},
    ("batch", "jobs"): {"create", "delete"},
    ("postgresql.cnpg.io", "clusters"): {"list"},
    ("", "services"): {"get", "list", "watch", "create", "patch", "delete"},
    ("cert-manager.io", "certificates"): {"get", "list", "watch", "create", "patch", "delete"},
}
"""The whole API surface of the plugin server. Widening it is a reviewed decision;
tests/kube/test_kube_rbac.py checks that the plugin's requests need exactly this."""

CERTIFICATE_SPEC_KEYS = {
    "additionalOutputFormats", "commonName", "dnsNames", "duration", "emailAddresses",
    "encodeUsagesInRequest", "ipAddresses", "isCA", "issuerRef", "keystores",
    "literalSubject", "nameConstraints", "otherNames", "privateKey", "renewBefore",
    "renewBeforePercentage", "revisionHistoryLimit", "secretName", "secretTemplate",
    "signatureAlgorithm", "subject", "uris", "usages",
}  # fmt: skip
"""Fields of cert-manager.io/v1 CertificateSpec."""
ISSUER_TYPES = {"acme", "ca", "selfSigned", "vault", "venafi"}
PRIVATE_KEY = {"algorithm": {"RSA", "ECDSA", "Ed25519"}, "rotationPolicy": {"Never", "Always"}}


@pytest.fixture(scope="module", autouse=True)
def _kustomize() -> None:
    """Every test here renders deploy/ with the real kustomize (kubectl's)."""
    require_kubectl()


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render(DEPLOY)


def one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def plugin_container(docs: list[Doc]) -> dict[str, Any]:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)


def go_duration_hours(text: str) -> float:
    match = re.fullmatch(r"(\d+)h(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match, f"{text!r} is not an hours-based Go duration"
    return int(match[1]) + int(match[2] or 0) / 60 + int(match[3] or 0) / 3600


def by_identity(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def test_image_override_is_copied_into_plugin_image(tmp_path: Path) -> None:
    overlay = tmp_path / "deploy"
    shutil.copytree(DEPLOY, overlay)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["images"] = [
        {"name": IMAGE_REPOSITORY, "newName": "registry.example/wal", "newTag": "9.9.9"}
    ]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    rendered = render(overlay)
    container = plugin_container(rendered)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "registry.example/wal:9.9.9"
    assert env["PLUGIN_IMAGE"] == "registry.example/wal:9.9.9"
    assert policy_variables(rendered)["pluginImage"] == "'registry.example/wal:9.9.9'"


def test_namespace_change_is_copied_into_the_policys_user(tmp_path: Path) -> None:
    overlay = tmp_path / "deploy"
    shutil.copytree(DEPLOY, overlay)
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["namespace"] = "postgres-operator"
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    (condition,) = one(render(overlay), "ValidatingAdmissionPolicy", POLICY)["spec"][
        "matchConditions"
    ]
    assert condition["expression"] == (
        "request.userInfo.username == 'system:serviceaccount:postgres-operator:cnpg-wal-replica'"
    )
    assert policy_variables(render(overlay), WAL_CA_POLICY)["pluginUser"] == (
        "'system:serviceaccount:postgres-operator:cnpg-wal-replica'"
    )


POLICY = "cnpg-wal-replica"
WAL_CA_POLICY = "cnpg-wal-replica-wal-ca"
WAL_CA = "cnpg-wal-replica-wal-ca"


def policy_variables(docs: list[Doc], name: str = POLICY) -> dict[str, str]:
    policy = one(docs, "ValidatingAdmissionPolicy", name)["spec"]
    return {v["name"]: v["expression"] for v in policy["variables"]}


# --- schemas ---------------------------------------------------------------------------


def test_core_kinds_pass_kubernetes_validate_strict(docs: list[Doc]) -> None:
    core = [d for d in docs if not d["apiVersion"].startswith("cert-manager.io/")]
    assert {d["kind"] for d in core} == {
        "ClusterRole", "ClusterRoleBinding", "Deployment", "NetworkPolicy", "PodDisruptionBudget",
        "Service", "ServiceAccount", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }  # fmt: skip
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field(docs: list[Doc]) -> None:
    broken = one(docs, "Service")
    broken = {**broken, "spec": {**broken["spec"], "portz": []}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_cert_manager_kinds_are_structurally_valid(docs: list[Doc]) -> None:
    cert_manager = [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")]
    assert {d["apiVersion"] for d in cert_manager} == {"cert-manager.io/v1"}
    issuer_kinds = ("Issuer", "ClusterIssuer")
    issuers = {
        (d["kind"], d["metadata"]["name"]) for d in cert_manager if d["kind"] in issuer_kinds
    }
    for issuer in (d for d in cert_manager if d["kind"] in issuer_kinds):
        assert set(issuer["spec"]) <= ISSUER_TYPES
        assert len(issuer["spec"]) == 1
    certificates = [d for d in cert_manager if d["kind"] == "Certificate"]
    assert len(certificates) == 3
    for cert in certificates:
        spec = cert["spec"]
        assert set(spec) <= CERTIFICATE_SPEC_KEYS, set(spec) - CERTIFICATE_SPEC_KEYS
        ref = spec["issuerRef"]
        assert ref == {"name": ref["name"], "kind": ref["kind"], "group": "cert-manager.io"}
        assert (ref["kind"], ref["name"]) in issuers
        for key, allowed in PRIVATE_KEY.items():
            assert spec["privateKey"][key] in allowed
        if cert["metadata"]["name"] == WAL_CA:
            continue
        assert go_duration_hours(spec["duration"]) == 2160
        assert go_duration_hours(spec["renewBefore"]) == 360
        assert spec["isCA"] is False
    assert {d["kind"] for d in cert_manager} == {"Issuer", "ClusterIssuer", "Certificate"}


def test_the_wal_ca_signs_from_cert_managers_namespace(docs: list[Doc]) -> None:
    """A ClusterIssuer reads its CA Secret from cert-manager's cluster resource namespace."""
    issuer = one(docs, "ClusterIssuer", WAL_CA)
    ca = one(docs, "Certificate", WAL_CA)
    namespace = issuer["metadata"]["annotations"][
        "wal-replica.documentdb.io/cluster-resource-namespace"
    ]
    assert ca["metadata"]["namespace"] == namespace == "cert-manager"
    assert issuer["spec"] == {"ca": {"secretName": ca["spec"]["secretName"]}}
    assert ca["spec"]["isCA"] is True
    assert ca["spec"]["privateKey"]["rotationPolicy"] == "Never", (
        "a new CA key on renewal would invalidate every certificate it issued"
    )
    root = one(docs, "ClusterIssuer", ca["spec"]["issuerRef"]["name"])
    assert root["spec"] == {"selfSigned": {}}


def test_namespaced_objects_are_in_the_operator_namespace(docs: list[Doc]) -> None:
    for doc in docs:
        if doc["kind"] in NAMESPACED_BY_KUSTOMIZE:
            continue  # cluster-scoped: the API server drops what kustomize sets
        if doc["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in doc["metadata"]
        elif (doc["kind"], doc["metadata"]["name"]) == ("Certificate", WAL_CA):
            assert doc["metadata"]["namespace"] == "cert-manager"  # see the test above
        else:
            assert doc["metadata"]["namespace"] == NAMESPACE


# --- discovery and mTLS wiring ---------------------------------------------------------


def test_service_is_discoverable_by_the_operator(docs: list[Doc]) -> None:
    service = one(docs, "Service")
    assert service["metadata"]["labels"]["cnpg.io/pluginName"] == metadata.PLUGIN_NAME
    annotations = service["metadata"]["annotations"]
    (port,) = service["spec"]["ports"]
    assert annotations["cnpg.io/pluginPort"] == str(port["port"]) == "9090"
    container = plugin_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[port["targetPort"]] == 9090
    assert "--server-address=:9090" in container["args"]
    template = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template.items()


def test_server_certificate_names_the_service(docs: list[Doc]) -> None:
    service = one(docs, "Service")["metadata"]["name"]
    server = one(docs, "Certificate", "cnpg-wal-replica-server")["spec"]
    assert service in server["dnsNames"]
    assert server["usages"] == ["server auth"]
    client = one(docs, "Certificate", "cnpg-wal-replica-client")["spec"]
    assert client["usages"] == ["client auth"]
    assert "dnsNames" not in client


def test_secret_names_agree_across_service_certificates_and_deployment(docs: list[Doc]) -> None:
    annotations = one(docs, "Service")["metadata"]["annotations"]
    server_secret = annotations["cnpg.io/pluginServerSecret"]
    client_secret = annotations["cnpg.io/pluginClientSecret"]
    server = one(docs, "Certificate", "cnpg-wal-replica-server")["spec"]
    client = one(docs, "Certificate", "cnpg-wal-replica-client")["spec"]
    assert server["secretName"] == server_secret
    assert client["secretName"] == client_secret
    assert server_secret != client_secret

    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounts = {m["mountPath"]: m for m in plugin_container(docs)["volumeMounts"]}
    assert secrets[mounts["/server"]["name"]] == server_secret
    assert secrets[mounts["/client"]["name"]] == client_secret
    modes = {v["secret"]["defaultMode"] for v in pod["volumes"] if "secret" in v}
    assert modes == {0o440}, "the key must not be world-readable"
    assert mounts["/server"]["readOnly"] is True
    assert mounts["/client"]["readOnly"] is True
    assert plugin_container(docs)["args"] == [
        "serve",
        "--server-cert=/server/tls.crt",
        "--server-key=/server/tls.key",
        "--client-cert=/client/tls.crt",
        "--server-address=:9090",
        "--health-address=:9091",
        "--metrics-address=:9092",
    ]


def test_secret_volumes_hold_only_the_files_serve_reads(docs: list[Doc]) -> None:
    """The client Secret's private key (the operator's) never reaches the plugin's pod."""
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    container = plugin_container(docs)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    read: dict[str, set[str]] = {}
    for arg in container["args"]:
        flag, _, value = arg.partition("=")
        if flag in ("--server-cert", "--server-key", "--client-cert"):
            directory, _, file = value.rpartition("/")
            read.setdefault(directory, set()).add(file)
    secrets = [v for v in pod["volumes"] if "secret" in v]
    assert {mounts[v["name"]] for v in secrets} == set(read)
    for volume in secrets:
        items = volume["secret"]["items"]
        assert all(item["key"] == item["path"] for item in items)
        assert {item["path"] for item in items} == read[mounts[volume["name"]]], volume["name"]
    assert read["/client"] == {"tls.crt"}


# --- availability ------------------------------------------------------------------------


def test_plugin_server_is_highly_available(docs: list[Doc]) -> None:
    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod_labels = spec["template"]["metadata"]["labels"]
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    (term,) = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= pod_labels.items()
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    assert pdb["minAvailable"] == 1
    assert pdb["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    container = plugin_container(docs)
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][section])


def test_probes_ask_the_plain_text_health_port_what_the_server_reports(docs: list[Doc]) -> None:
    """Ready: the overall status (SERVING once every CNPG-I service is). Alive: Identity."""
    container = plugin_container(docs)
    (health_address,) = [a for a in container["args"] if a.startswith("--health-address=")]
    health_port = int(health_address.rpartition(":")[2])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (metrics_address,) = [a for a in container["args"] if a.startswith("--metrics-address=")]
    metrics_port = int(metrics_address.rpartition(":")[2])
    assert ports == {"grpc": 9090, "health": health_port, "metrics": metrics_port}
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["grpc"] == {"port": health_port}  # service "": the server as a whole
    identity = identity_pb2.DESCRIPTOR.services_by_name["Identity"].full_name  # no grpc import
    assert liveness["grpc"] == {"port": health_port, "service": identity}
    service_ports = {p["targetPort"] for p in one(docs, "Service")["spec"]["ports"]}
    assert service_ports == {"grpc"}, "the health and metrics ports are not the plugin's API"


def test_image_is_the_released_version_and_plugin_image_follows_it(docs: list[Doc]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    container = plugin_container(docs)
    assert container["image"] == f"{IMAGE_REPOSITORY}:{version}"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PLUGIN_IMAGE"] == container["image"]


# --- security ----------------------------------------------------------------------------


def test_pod_meets_the_restricted_pod_security_standard(docs: list[Doc]) -> None:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    pod_context = pod["securityContext"]
    assert pod_context["runAsNonRoot"] is True
    assert isinstance(pod_context["runAsUser"], int)
    assert pod_context["runAsUser"] > 0
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    container = plugin_container(docs)["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["readOnlyRootFilesystem"] is True
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod
    assert not any("hostPath" in v for v in pod["volumes"])
    assert pod["automountServiceAccountToken"] is True
    assert pod["serviceAccountName"] == one(docs, "ServiceAccount")["metadata"]["name"]


OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "cloudnative-pg"}
"""What CNPG's manifests label the operator's pod with (tests/kube/test_deploy_dryrun.py
checks it against the pinned operator's own manifest)."""


def test_network_policy_admits_only_the_operator_to_the_cnpg_i_port(docs: list[Doc]) -> None:
    """And any namespace's pods (Prometheus) to the metrics port, nothing else."""
    policy = one(docs, "NetworkPolicy")["spec"]
    template = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= template.items()
    assert policy["podSelector"] == {
        "matchLabels": one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    }
    assert policy["policyTypes"] == ["Ingress"], "egress stays open: the API server"
    rule, scrape = policy["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": OPERATOR_POD_LABELS}}], (
        "pods of the policy's own namespace only (no namespaceSelector, no ipBlock)"
    )
    service = one(docs, "Service")
    (port,) = service["spec"]["ports"]
    cnpg_i = int(service["metadata"]["annotations"]["cnpg.io/pluginPort"])
    assert rule["ports"] == [{"port": cnpg_i, "protocol": "TCP"}]
    assert port["port"] == cnpg_i
    container_ports = {p["name"]: p["containerPort"] for p in plugin_container(docs)["ports"]}
    assert container_ports[port["targetPort"]] == cnpg_i
    assert container_ports["health"] != cnpg_i, "the health port is for the node's kubelet only"
    assert scrape["from"] == [{"namespaceSelector": {}}]
    assert scrape["ports"] == [{"port": container_ports["metrics"], "protocol": "TCP"}]
    assert container_ports["metrics"] not in (cnpg_i, container_ports["health"])


def test_pod_user_is_the_image_user() -> None:
    dockerfile_user = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ][-1]
    pod = one(render(DEPLOY), "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert dockerfile_user == f"{pod['runAsUser']}:{pod['runAsGroup']}"


def test_cluster_role_grants_exactly_what_the_plugin_uses(docs: list[Doc]) -> None:
    role = one(docs, "ClusterRole", "cnpg-wal-replica")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "nonResourceURLs" not in rule
        assert "resourceNames" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == EXPECTED_RULES
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {field}: {rule}"
        assert "secrets" not in rule["resources"]


def test_cluster_role_binding_binds_the_plugin_service_account(docs: list[Doc]) -> None:
    binding = one(docs, "ClusterRoleBinding")
    account = one(docs, "ServiceAccount")["metadata"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cnpg-wal-replica",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]


# --- admission policy --------------------------------------------------------------------


def test_admission_policy_binds_to_the_plugin_user_and_image(docs: list[Doc]) -> None:
    policy = one(docs, "ValidatingAdmissionPolicy", POLICY)["spec"]
    account = one(docs, "ServiceAccount")["metadata"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert policy["matchConditions"] == [
        {"name": "plugin-service-account", "expression": f"request.userInfo.username == '{user}'"}
    ], "every other user's requests are not evaluated at all"
    assert policy_variables(docs)["pluginImage"] == f"'{plugin_container(docs)['image']}'"
    assert policy["failurePolicy"] == "Fail"
    rules = {
        (group, resource): set(rule["operations"])
        for rule in policy["matchConstraints"]["resourceRules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert rules == {
        ("apps", "deployments"): {"CREATE", "UPDATE"},
        ("batch", "jobs"): {"CREATE", "UPDATE"},
    }
    binding = one(docs, "ValidatingAdmissionPolicyBinding", POLICY)["spec"]
    assert binding == {"policyName": POLICY, "validationActions": ["Deny"]}, (
        "every namespace, kube-system included; no params to go missing"
    )


def test_the_wal_ca_policy_binds_to_the_plugin_user(docs: list[Doc]) -> None:
    policy = one(docs, "ValidatingAdmissionPolicy", WAL_CA_POLICY)["spec"]
    account = one(docs, "ServiceAccount")["metadata"]
    user = f"system:serviceaccount:{account['namespace']}:{account['name']}"
    assert policy_variables(docs, WAL_CA_POLICY)["pluginUser"] == f"'{user}'"
    assert policy["failurePolicy"] == "Fail"
    assert WAL_CA in policy["matchConditions"][0]["expression"]
    binding = one(docs, "ValidatingAdmissionPolicyBinding", WAL_CA_POLICY)["spec"]
    assert binding == {"policyName": WAL_CA_POLICY, "validationActions": ["Deny"]}
    for validation in policy["validations"]:
        assert "messageExpression" in validation, validation["expression"]


def installation_yaml_blocks() -> list[Any]:
    text = (ROOT / "docs" / "installation.md").read_text()
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def test_the_documented_overlay_repeats_every_replacement() -> None:
    shipped = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())["replacements"]
    (overlay,) = [b for b in installation_yaml_blocks() if "replacements" in b]
    assert overlay["replacements"] == shipped


def test_extra_images_is_where_the_documented_patch_expects_it(docs: list[Doc]) -> None:
    policy = one(docs, "ValidatingAdmissionPolicy", POLICY)["spec"]
    (overlay,) = [b for b in installation_yaml_blocks() if "patches" in b]
    (patch,) = overlay["patches"]
    test, replace = yaml.safe_load(patch["patch"])
    assert test["op"] == "test"
    index = int(test["path"].split("/")[3])
    assert policy["variables"][index]["name"] == test["value"] == "extraImages"
    assert replace["path"] == f"/spec/variables/{index}/expression"


def test_the_documented_extra_images_patch_renders(tmp_path: Path) -> None:
    (overlay,) = [b for b in installation_yaml_blocks() if "patches" in b]
    kustomization = {"resources": [os.path.relpath(DEPLOY, tmp_path)], **overlay}
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    variables = policy_variables(render(tmp_path))
    assert variables["extraImages"] == "['registry.example/receiver:1.2']"
    assert variables["pluginImage"] == f"'{IMAGE_REPOSITORY}:{metadata.VERSION}'"
