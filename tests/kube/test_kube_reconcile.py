"""The reconcile logic against the real API server, as the plugin's ServiceAccount.

Every write goes through `kube_plugin_client`, so these tests also prove that the ClusterRole
shipped in deploy/ allows everything the plugin does. Writes are counted from the API
server's audit log, not from the plugin's own bookkeeping.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Service
from lightkube.resources.storage_v1 import StorageClass
from lightkube.types import PatchType
from support import kubeobjects
from support.kubecore import janitor_on, reconciler_on
from support.kubeobjects import Cluster
from support.kubeplane import ControlPlane
from support.kubewait import settle_audit, wait_until_gone

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.kube.applier import Certificate, KubeApplier
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.reconcile.reconciler import Reconciler

pytestmark = pytest.mark.kube

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
RECEIVER = "pg-wal-receiver"


@pytest.fixture
def reconciler(kube_plugin_client: AsyncClient) -> Reconciler:
    return reconciler_on(kube_plugin_client, IMAGE)


async def receiver_objects(client: AsyncClient, namespace: str) -> tuple[Any, Any]:
    deployment = await client.get(Deployment, RECEIVER, namespace=namespace)
    pvc = await client.get(PersistentVolumeClaim, RECEIVER, namespace=namespace)
    return deployment, pvc


async def change_parameters(
    client: AsyncClient, namespace: str, parameters: dict[str, str]
) -> bytes:
    """Change the plugin parameters as a user would and return the Cluster the operator sends."""
    patched = await client.patch(
        Cluster,
        "pg",
        {"spec": {"plugins": [{"name": kubeobjects.PLUGIN_NAME, "parameters": parameters}]}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    return kubeobjects.cluster_bytes(patched)


async def plugin_writes_during(
    plane: ControlPlane, client: AsyncClient, namespace: str, action: Any
) -> list[dict[str, Any]]:
    """Run `action`; return the writes the plugin's user made (audit log) while it ran."""
    offset = plane.audit_offset()
    await action
    await settle_audit(plane, client, namespace, offset)
    return plane.audit_writes(offset, user=kubeobjects.PLUGIN_USER)


async def test_post_creates_the_pvc_and_deployment_owned_by_nobody(
    reconciler: Reconciler, kube_admin: AsyncClient, namespace: str
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {"walPVCSize": "2Gi"})

    await reconciler.post(kubeobjects.cluster_bytes(cluster))

    deployment, pvc = await receiver_objects(kube_admin, namespace)
    assert deployment.metadata.ownerReferences is None, "the receiver outlives its Cluster"
    assert pvc.metadata.ownerReferences is None
    assert pvc.spec.resources.requests == {"storage": "2Gi"}
    assert deployment.spec.strategy.type == "Recreate"
    assert deployment.spec.template.spec.containers[0].image == IMAGE


async def test_second_post_with_the_same_cluster_writes_nothing(
    reconciler: Reconciler, kube_plane: ControlPlane, kube_admin: AsyncClient, namespace: str
) -> None:
    cluster = kubeobjects.cluster_bytes(
        await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    )
    first = await plugin_writes_during(kube_plane, kube_admin, namespace, reconciler.post(cluster))
    before = [o.metadata.resourceVersion for o in await receiver_objects(kube_admin, namespace)]

    second = await plugin_writes_during(kube_plane, kube_admin, namespace, reconciler.post(cluster))

    after = [o.metadata.resourceVersion for o in await receiver_objects(kube_admin, namespace)]
    assert {w["objectRef"]["resource"] for w in first} >= {"deployments", "persistentvolumeclaims"}
    assert [(w["verb"], w["objectRef"]["resource"]) for w in second] == []
    assert after == before


async def test_growing_wal_pvc_size_patches_the_bound_pvc(
    reconciler: Reconciler, kube_admin: AsyncClient, namespace: str
) -> None:
    storage_class = f"expandable-{namespace}"
    await kube_admin.create(
        StorageClass(
            metadata=ObjectMeta(name=storage_class),
            provisioner="example.com/test",
            allowVolumeExpansion=True,
        )
    )
    try:
        parameters = {"walPVCSize": "1Gi", "walStorageClass": storage_class}
        cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", parameters)
        await reconciler.post(kubeobjects.cluster_bytes(cluster))
        # The API server only lets bound claims grow: bind it as a provisioner would.
        await kube_admin.patch(
            PersistentVolumeClaim.Status,
            RECEIVER,
            {"status": {"phase": "Bound", "capacity": {"storage": "1Gi"}}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

        grown = await change_parameters(kube_admin, namespace, {**parameters, "walPVCSize": "3Gi"})
        await reconciler.post(grown)

        _, pvc = await receiver_objects(kube_admin, namespace)
        assert pvc.spec.resources.requests == {"storage": "3Gi"}
        assert pvc.spec.storageClassName == storage_class
    finally:
        await kube_admin.delete(StorageClass, storage_class)


async def test_changing_a_parameter_rolls_the_deployment(
    reconciler: Reconciler, kube_admin: AsyncClient, namespace: str
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    await reconciler.post(kubeobjects.cluster_bytes(cluster))
    before, _ = await receiver_objects(kube_admin, namespace)

    await reconciler.post(await change_parameters(kube_admin, namespace, {"verbose": "true"}))

    after, _ = await receiver_objects(kube_admin, namespace)
    assert after.metadata.generation > before.metadata.generation
    assert after.spec.template != before.spec.template  # a new pod template: a rollout


async def test_removing_the_plugin_makes_the_janitor_delete_the_deployment_and_keep_the_pvc(
    reconciler: Reconciler,
    kube_plugin_client: AsyncClient,
    kube_admin: AsyncClient,
    namespace: str,
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    await reconciler.post(kubeobjects.cluster_bytes(cluster))

    await kube_admin.patch(
        Cluster, "pg", {"spec": {"plugins": []}}, namespace=namespace, patch_type=PatchType.MERGE
    )
    await janitor_on(kube_plugin_client, reconciler).sweep()

    await wait_until_gone(kube_admin, Deployment, RECEIVER, namespace)
    pvc = (await kube_admin.get(PersistentVolumeClaim, RECEIVER, namespace=namespace)).to_dict()
    assert "deletionTimestamp" not in pvc["metadata"]
    assert pvc["metadata"]["labels"][LABEL_KEPT] == "true"
    jobs = [job.to_dict() async for job in kube_admin.list(Job, namespace=namespace)]
    assert [job["metadata"]["name"] for job in jobs] == ["pg-wal-receiver-drop-slot"]


async def test_deleting_the_cluster_keeps_the_receiver_objects(
    reconciler: Reconciler, kube_admin: AsyncClient, namespace: str
) -> None:
    """The WAL copy is what recovers a Cluster deleted with its volumes: the garbage
    collector, which removes what the Cluster owns (a ConfigMap here), leaves it alone."""
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    await reconciler.post(kubeobjects.cluster_bytes(cluster))
    owned = ConfigMap(
        metadata=ObjectMeta(
            name="owned-by-pg",
            namespace=namespace,
            ownerReferences=[
                OwnerReference(
                    apiVersion="postgresql.cnpg.io/v1",
                    kind="Cluster",
                    name="pg",
                    uid=cluster["metadata"]["uid"],
                )
            ],
        )
    )
    await kube_admin.create(owned)

    await kube_admin.delete(Cluster, "pg", namespace=namespace)

    await wait_until_gone(kube_admin, ConfigMap, "owned-by-pg", namespace)
    deployment, pvc = await receiver_objects(kube_admin, namespace)
    assert deployment.metadata is not None
    assert pvc.metadata is not None
    for kind, name in ((Service, RECEIVER), (Certificate, f"{RECEIVER}-server")):
        assert (await kube_admin.get(kind, name, namespace=namespace)).metadata is not None


async def test_owner_references_of_an_earlier_version_are_removed_on_the_next_apply(
    reconciler: Reconciler, kube_plugin_client: AsyncClient, kube_admin: AsyncClient, namespace: str
) -> None:
    """Earlier versions made the Cluster own the Deployment and the PVC, so deleting the
    Cluster deleted the WAL copy; the next apply, as the same field manager, drops them."""
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    view = ClusterView.from_dict(cluster)
    owner = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "name": "pg",
        "uid": cluster["metadata"]["uid"],
    }
    applier = KubeApplier(kube_plugin_client)
    for obj in specs.desired_objects(view, config.parse(view, IMAGE))[:2]:
        controller = obj["kind"] == "Deployment"
        obj["metadata"]["ownerReferences"] = [{**owner, "controller": controller}]
        await applier.apply(obj)  # as the earlier version wrote them
    deployment, pvc = await receiver_objects(kube_admin, namespace)
    assert deployment.metadata.ownerReferences
    assert pvc.metadata.ownerReferences

    await reconciler.post(kubeobjects.cluster_bytes(cluster))

    deployment, pvc = await receiver_objects(kube_admin, namespace)
    assert deployment.metadata.ownerReferences is None
    assert pvc.metadata.ownerReferences is None
