"""The control plane itself: real schema validation, real garbage collection, real RBAC."""

from __future__ import annotations

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.authorization_v1 import SubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Secret
from support import kubeobjects
from support.kubeobjects import Cluster
from support.kubeplane import ControlPlane
from support.kubewait import wait_for_audit, wait_until_gone

pytestmark = pytest.mark.kube


async def test_cnpg_cluster_crd_is_established(kube_admin: AsyncClient) -> None:
    crd = await kube_admin.get(CustomResourceDefinition, "clusters.postgresql.cnpg.io")
    assert crd.spec.group == "postgresql.cnpg.io"
    assert "v1" in [v.name for v in crd.spec.versions if v.served]
    assert crd.status is not None
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])


async def test_cluster_created_gets_uid_and_operator_status(
    kube_admin: AsyncClient, namespace: str
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {"walPVCSize": "2Gi"})
    assert len(cluster["metadata"]["uid"]) == 36
    assert cluster["spec"]["plugins"][0]["name"] == kubeobjects.PLUGIN_NAME
    assert cluster["spec"]["plugins"][0]["parameters"] == {"walPVCSize": "2Gi"}
    assert cluster["status"]["writeService"] == "pg-rw"
    assert cluster["status"]["certificates"]["replicationTLSSecret"] == "pg-replication"


async def test_cnpg_schema_rejects_an_invalid_cluster(
    kube_admin: AsyncClient, namespace: str
) -> None:
    manifest = kubeobjects.cluster_manifest("bad", namespace)
    manifest["spec"]["instances"] = 0  # CNPG's schema: minimum 1
    with pytest.raises(ApiError) as raised:
        await kube_admin.create(Cluster.from_dict(manifest))
    assert raised.value.status.code == 422
    assert "spec.instances" in str(raised.value.status.message)


async def test_garbage_collector_deletes_dependents_of_a_deleted_cluster(
    kube_admin: AsyncClient, namespace: str
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "owner", with_status=False)
    owner = OwnerReference(
        apiVersion="postgresql.cnpg.io/v1",
        kind="Cluster",
        name="owner",
        uid=cluster["metadata"]["uid"],
    )
    await kube_admin.create(
        ConfigMap(
            metadata=ObjectMeta(name="dependent", namespace=namespace, ownerReferences=[owner])
        )
    )
    await kube_admin.delete(Cluster, "owner", namespace=namespace)
    await wait_until_gone(kube_admin, ConfigMap, "dependent", namespace)


async def test_plugin_service_account_may_not_read_secrets(
    kube_admin: AsyncClient, kube_plugin_client: AsyncClient, namespace: str
) -> None:
    await kube_admin.create(
        Secret(
            metadata=ObjectMeta(name="pg-replication", namespace=namespace), stringData={"a": "b"}
        )
    )
    with pytest.raises(ApiError) as get_error:
        await kube_plugin_client.get(Secret, "pg-replication", namespace=namespace)
    assert get_error.value.status.code == 403
    with pytest.raises(ApiError) as list_error:
        await anext(aiter(kube_plugin_client.list(Secret, namespace=namespace)))
    assert list_error.value.status.code == 403


@pytest.mark.parametrize(
    ("verb", "group", "resource", "allowed"),
    [
        ("create", "apps", "deployments", True),
        ("patch", "apps", "deployments", True),
        ("create", "", "persistentvolumeclaims", True),
        ("patch", "", "persistentvolumeclaims", True),
        ("list", "postgresql.cnpg.io", "clusters", True),
        ("get", "", "secrets", False),
        ("list", "", "secrets", False),
        ("patch", "postgresql.cnpg.io", "clusters", False),
        ("delete", "", "persistentvolumeclaims", False),
    ],
)
async def test_shipped_cluster_role_grants_exactly_what_the_plugin_needs(
    kube_admin: AsyncClient,
    plugin_kubeconfig: str,
    verb: str,
    group: str,
    resource: str,
    allowed: bool,
) -> None:
    review = await kube_admin.create(
        SubjectAccessReview(
            spec=SubjectAccessReviewSpec(
                user=kubeobjects.PLUGIN_USER,
                groups=[
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{kubeobjects.PLUGIN_NAMESPACE}",
                ],
                resourceAttributes=ResourceAttributes(
                    verb=verb, group=group, resource=resource, namespace="any-namespace"
                ),
            )
        )
    )
    assert review.status is not None
    assert review.status.allowed is allowed


async def test_audit_log_records_writes_by_user(
    kube_plane: ControlPlane, kube_admin: AsyncClient, namespace: str
) -> None:
    offset = kube_plane.audit_offset()
    await kube_admin.create(ConfigMap(metadata=ObjectMeta(name="audited", namespace=namespace)))
    await kube_admin.get(ConfigMap, "audited", namespace=namespace)
    writes = await wait_for_audit(kube_plane, offset, "kube-harness-admin", minimum=1)
    assert [(w["verb"], w["objectRef"]["name"]) for w in writes] == [("create", "audited")]


async def test_cert_manager_crds_install_and_validate(
    cert_manager_crds: list[str], kube_admin: AsyncClient, namespace: str
) -> None:
    from lightkube.generic_resource import create_namespaced_resource

    assert "certificates.cert-manager.io" in cert_manager_crds
    certificate = create_namespaced_resource("cert-manager.io", "v1", "Certificate", "certificates")
    with pytest.raises(ApiError) as raised:  # secretName and issuerRef are required
        await kube_admin.create(
            certificate.from_dict({"metadata": {"name": "c", "namespace": namespace}, "spec": {}})
        )
    assert raised.value.status.code == 422
