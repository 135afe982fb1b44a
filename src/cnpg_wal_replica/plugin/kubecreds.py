"""Does this process have Kubernetes API credentials? Asked before the server binds its port.

Mirrors the order lightkube's ``KubeConfig.from_env`` tries, without importing lightkube
(the server must start fast): the in-cluster ServiceAccount, then ``$KUBECONFIG``, then
``~/.kube/config``.
"""

from __future__ import annotations

import os
from pathlib import Path

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = "~/.kube/config"


def missing_credentials(service_account: Path = SERVICE_ACCOUNT) -> str | None:
    """What is missing, in plain words, or None when some credentials are there."""
    in_cluster = (service_account / "token").is_file() and (service_account / "namespace").is_file()
    if in_cluster and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    kubeconfig = os.environ.get("KUBECONFIG")
    path = Path(kubeconfig or DEFAULT_KUBECONFIG).expanduser()
    if path.is_file():
        return None
    if in_cluster:
        why = "the ServiceAccount token is mounted but KUBERNETES_SERVICE_HOST is not set"
    else:
        why = f"no ServiceAccount token in {service_account}"
    where = f"KUBECONFIG={kubeconfig} does not exist" if kubeconfig else f"no {path}"
    return (
        f"no Kubernetes API credentials: {why}, and {where}. Run the server in a pod "
        "with its ServiceAccount token mounted (automountServiceAccountToken), or point "
        "KUBECONFIG at a kubeconfig file"
    )
