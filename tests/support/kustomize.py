"""Render a kustomization with the real kustomize: the one built into kubectl.

The harness builds kubectl from the Kubernetes module it runs (`scripts/kube-harness build`),
so every machine that runs `make test` has it; a kubectl on PATH is used when the harness has
not been built. What it renders is what `kubectl apply -k` sends.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support import harnesspaths

Doc = dict[str, Any]

CLUSTER_SCOPED_KINDS = {
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
}
"""Cluster-scoped kinds kustomize knows: it gives them no namespace."""
NAMESPACED_BY_KUSTOMIZE = {
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterIssuer",
}
"""Cluster-scoped kinds kustomize's built-in schema does not know (newer than it, or custom
resources): it gives them `namespace:` like any namespaced kind, and the API server clears
it (apiserver handlers: EnsureObjectNamespaceMatchesRequestNamespace)."""


class KustomizeMissing(harnesspaths.HarnessMissing):
    """Neither the harness's kubectl nor one on PATH exists."""


def kubectl() -> str:
    """The harness's kubectl, else the one on PATH."""
    try:
        built = harnesspaths.node_binaries().kubectl
    except harnesspaths.HarnessMissing:
        built = None
    if built is not None and built.is_file():
        return str(built)
    found = shutil.which("kubectl")
    if found is None:
        raise KustomizeMissing("no kubectl to run kustomize: run scripts/kube-harness build")
    return found


def require_kubectl() -> None:
    """Skip when there is no kubectl for kustomize (fail with CI=true): a module fixture."""
    from support.kube_fixtures import skip_or_fail  # pytest and the harness: tests only

    try:
        kubectl()
    except KustomizeMissing as missing:
        skip_or_fail(str(missing))


def render(directory: Path) -> list[Doc]:
    """`kubectl kustomize <directory>`, as documents."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
