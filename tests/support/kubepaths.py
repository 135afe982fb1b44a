"""REST paths of the kinds deploy/ and the chart install, for raw API calls (httpx)."""

from __future__ import annotations

from typing import Any

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Service": ("/api/v1", "services", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "PodDisruptionBudget": ("/apis/policy/v1", "poddisruptionbudgets", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Issuer": ("/apis/cert-manager.io/v1", "issuers", True),
    "ClusterIssuer": ("/apis/cert-manager.io/v1", "clusterissuers", False),
    "Certificate": ("/apis/cert-manager.io/v1", "certificates", True),
    "ValidatingAdmissionPolicy": (ADMISSION, "validatingadmissionpolicies", False),
    "ValidatingAdmissionPolicyBinding": (ADMISSION, "validatingadmissionpolicybindings", False),
    "Cluster": ("/apis/postgresql.cnpg.io/v1", "clusters", True),
}
"""kind -> (API path prefix, plural, namespaced)."""


def collection_path(doc: dict[str, Any], namespace: str = "") -> str:
    """Where objects of the doc's kind are created (POST); `namespace` as in `object_path`."""
    prefix, plural, namespaced = RESOURCES[doc["kind"]]
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"


def object_path(doc: dict[str, Any], namespace: str) -> str:
    """The object's REST path; `namespace` is ignored for cluster-scoped kinds."""
    return f"{collection_path(doc, namespace)}/{doc['metadata']['name']}"
