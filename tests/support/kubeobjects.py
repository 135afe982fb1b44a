"""Objects the Kubernetes tests create: CNPG Clusters, the shipped RBAC, the plugin identity.

`Cluster` is a lightkube generic resource; the API server validates it against the CNPG CRD
schema installed by `kubeplane`, so a Cluster these helpers create is one CNPG would accept.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.core_v1 import Namespace, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from support import kustomize
from support.harnesspaths import REPO_ROOT

Cluster = create_namespaced_resource("postgresql.cnpg.io", "v1", "Cluster", "clusters")

PLUGIN_NAME = "cnpg-i-wal-replica.documentdb.io"
PLUGIN_NAMESPACE = "cnpg-system"
PLUGIN_SERVICE_ACCOUNT = "cnpg-wal-replica"
PLUGIN_USER = f"system:serviceaccount:{PLUGIN_NAMESPACE}:{PLUGIN_SERVICE_ACCOUNT}"
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:16.4"


def bare_job(name: str = "probe") -> dict[str, Any]:
    """The smallest Job the API server accepts; admission policies in tests refuse it."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }


def cluster_manifest(
    name: str,
    namespace: str,
    parameters: dict[str, str] | None = None,
    *,
    with_plugin: bool = True,
    server_alt_dns_names: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A small but complete CNPG Cluster, optionally enabling this plugin with `parameters`."""
    spec: dict[str, Any] = {
        "instances": 3,
        "imageName": POSTGRES_IMAGE,
        "storage": {"size": "1Gi"},
    }
    if server_alt_dns_names:
        spec["certificates"] = {"serverAltDNSNames": list(server_alt_dns_names)}
    if with_plugin:
        spec["plugins"] = [{"name": PLUGIN_NAME, "parameters": dict(parameters or {})}]
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def operator_status(name: str, server_alt_dns_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """The `status` the CNPG operator has written by the time it calls Post (protocol §4)."""
    return {
        "phase": "Cluster in healthy state",
        "image": POSTGRES_IMAGE,
        "instances": 3,
        "readyInstances": 3,
        "currentPrimary": f"{name}-1",
        "targetPrimary": f"{name}-1",
        "writeService": f"{name}-rw",
        "readService": f"{name}-r",
        "timelineID": 1,
        "certificates": {
            "serverCASecret": f"{name}-ca",
            "serverTLSSecret": f"{name}-server",
            "clientCASecret": f"{name}-ca",
            "replicationTLSSecret": f"{name}-replication",
            "serverAltDNSNames": [
                f"{name}-rw",
                f"{name}-rw.default.svc",
                f"{name}-r",
                *server_alt_dns_names,
            ],
        },
    }


async def create_cluster(
    client: AsyncClient,
    namespace: str,
    name: str,
    parameters: dict[str, str] | None = None,
    *,
    with_plugin: bool = True,
    with_status: bool = True,
    server_alt_dns_names: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Create a Cluster (validated by the CNPG schema) and return it as the operator's JSON.

    With `with_status`, the status the operator would have written is set through the status
    subresource first, so the JSON is what a real Post request carries.
    """
    created = await client.create(
        Cluster.from_dict(
            cluster_manifest(
                name,
                namespace,
                parameters,
                with_plugin=with_plugin,
                server_alt_dns_names=server_alt_dns_names,
            )
        )
    )
    if with_status:
        created = await client.patch(
            Cluster.Status,
            name,
            {"status": operator_status(name, server_alt_dns_names)},
            namespace=namespace,
            patch_type=_merge_patch(),
        )
    return cluster_json(created)


def cluster_json(obj: Any) -> dict[str, Any]:
    """A generic resource as the plain dict CNPG would serialise (apiVersion and kind set)."""
    data: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else copy.deepcopy(obj)
    data.setdefault("apiVersion", "postgresql.cnpg.io/v1")
    data.setdefault("kind", "Cluster")
    return data


def cluster_bytes(obj: Any) -> bytes:
    return json.dumps(cluster_json(obj)).encode()


def _merge_patch() -> Any:
    from lightkube.types import PatchType

    return PatchType.MERGE


def rendered_deploy(directory: Path = REPO_ROOT / "deploy") -> list[dict[str, Any]]:
    """`deploy/` as `kubectl apply -k` sends it (the real kustomize: `support.kustomize`)."""
    return kustomize.render(directory)


def shipped_cluster_roles(root: Path = REPO_ROOT / "deploy") -> list[dict[str, Any]]:
    """Every ClusterRole document in `deploy/**/*.yaml`, as shipped."""
    roles = []
    for path in sorted(root.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "ClusterRole":
                roles.append(doc)
    return roles


async def install_plugin_identity(
    client: AsyncClient, roles: list[dict[str, Any]], audience: str | None = None
) -> str:
    """Create the plugin's ServiceAccount, bind it to `roles`, and return a token for it."""
    for obj in (
        Namespace(metadata=ObjectMeta(name=PLUGIN_NAMESPACE)),
        ServiceAccount(
            metadata=ObjectMeta(name=PLUGIN_SERVICE_ACCOUNT, namespace=PLUGIN_NAMESPACE)
        ),
    ):
        await _create_if_missing(client, obj)
    for role in roles:
        role_name = role["metadata"]["name"]
        await _create_if_missing(client, ClusterRole.from_dict(role))
        await _create_if_missing(
            client,
            ClusterRoleBinding(
                metadata=ObjectMeta(name=f"kube-harness-{role_name}"),
                roleRef=RoleRef(
                    apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name=role_name
                ),
                subjects=[
                    Subject(
                        kind="ServiceAccount",
                        name=PLUGIN_SERVICE_ACCOUNT,
                        namespace=PLUGIN_NAMESPACE,
                    )
                ],
            ),
        )
    return await service_account_token(client, PLUGIN_SERVICE_ACCOUNT, PLUGIN_NAMESPACE, audience)


async def service_account_token(
    client: AsyncClient, name: str, namespace: str, audience: str | None = None
) -> str:
    """A token of ServiceAccount `namespace`/`name` (TokenRequest, valid for a day)."""
    request = ServiceAccount.Token(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=TokenRequestSpec(audiences=[audience] if audience else [], expirationSeconds=86400),
    )
    token = await client.create(request, name, namespace=namespace)
    assert token.status is not None
    return str(token.status.token)


async def _create_if_missing(client: AsyncClient, obj: Any) -> None:
    try:
        await client.create(obj)
    except ApiError as error:
        if error.status.code != 409:
            raise
