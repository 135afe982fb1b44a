"""The janitor on the real API server: a 50-character Cluster is cleaned up, and a Cluster
whose drop-slot Job the API server refuses (a ValidatingAdmissionPolicy) blocks nobody.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, PersistentVolumeClaim
from lightkube.types import PatchType
from support import kubeobjects
from support.kubecore import janitor_on, reconciler_on
from support.kubeobjects import Cluster
from support.kubepaths import ADMISSION
from support.kubeplane import ControlPlane
from support.kubewait import wait_until_gone

from cnpg_wal_replica.cluster import CNPG_MAX_NAME
from cnpg_wal_replica.metadata import LABEL_KEPT
from cnpg_wal_replica.specs.names import drop_slot_job_name, receiver_name

pytestmark = pytest.mark.kube

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
LONG = "long-" + "n" * (CNPG_MAX_NAME - 5)


@pytest_asyncio.fixture(loop_scope="session")
async def refusing_namespace(
    kube_plane: ControlPlane, kube_admin: AsyncClient
) -> AsyncIterator[str]:
    """A namespace (listed before the `namespace` fixture's) where no Job may be created."""
    name = f"a-{uuid.uuid4().hex[:10]}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["batch"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["jobs"],
                    }
                ]
            },
            "validations": [{"expression": "false", "message": "no Jobs in this namespace"}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}
            },
        },
    }
    await kube_admin.create(Namespace(metadata=ObjectMeta(name=name)))
    with kube_plane.http() as http:
        for plural, obj in (
            ("validatingadmissionpolicies", policy),
            ("validatingadmissionpolicybindings", binding),
        ):
            created = http.post(f"{ADMISSION}/{plural}", json=obj)
            assert created.status_code == 201, created.text
        deadline = time.monotonic() + 20
        while http.post(
            f"/apis/batch/v1/namespaces/{name}/jobs",
            params={"dryRun": "All"},
            json=kubeobjects.bare_job(),
        ).is_success:  # the policy takes a moment to be in force
            assert time.monotonic() < deadline, "the admission policy never applied"
            await asyncio.sleep(0.2)
        try:
            yield name
        finally:
            for plural in ("validatingadmissionpolicybindings", "validatingadmissionpolicies"):
                http.delete(f"{ADMISSION}/{plural}/{name}")
            await kube_admin.delete(Namespace, name)


async def drop_plugin(client: AsyncClient, namespace: str, name: str) -> None:
    await client.patch(
        Cluster, name, {"spec": {"plugins": []}}, namespace=namespace, patch_type=PatchType.MERGE
    )


async def test_one_refused_cluster_does_not_block_the_cleanup_of_another(
    kube_plugin_client: AsyncClient,
    kube_admin: AsyncClient,
    namespace: str,
    refusing_namespace: str,
) -> None:
    reconciler = reconciler_on(kube_plugin_client, IMAGE)
    for where, name in ((refusing_namespace, "pg"), (namespace, LONG)):
        cluster = await kubeobjects.create_cluster(kube_admin, where, name, {})
        await reconciler.post(kubeobjects.cluster_bytes(cluster))
        await drop_plugin(kube_admin, where, name)

    sweep = await janitor_on(kube_plugin_client, reconciler).sweep()

    assert (refusing_namespace, "pg") in sweep.failed
    assert (namespace, LONG) not in sweep.failed
    job = await kube_admin.get(Job, drop_slot_job_name(LONG), namespace=namespace)
    assert job.metadata is not None
    assert len(job.metadata.name or "") == 63
    assert job.spec is not None
    assert job.spec.template.metadata is not None
    labels = job.spec.template.metadata.labels or {}
    assert labels["batch.kubernetes.io/job-name"] == drop_slot_job_name(LONG)
    await wait_until_gone(kube_admin, Deployment, receiver_name(LONG), namespace)
    pvc = await kube_admin.get(PersistentVolumeClaim, receiver_name(LONG), namespace=namespace)
    assert pvc.metadata is not None
    assert (pvc.metadata.labels or {})[LABEL_KEPT] == "true"
    # Nothing of the refused Cluster was half-removed: its receiver waits for the next sweep.
    kept = await kube_admin.get(Deployment, "pg-wal-receiver", namespace=refusing_namespace)
    assert kept.metadata is not None
    assert kept.metadata.deletionTimestamp is None

    retried = await janitor_on(kube_plugin_client, reconciler).sweep()
    assert (refusing_namespace, "pg") in retried.failed, "retried next sweep, still refused"
