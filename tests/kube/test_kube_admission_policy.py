"""The ValidatingAdmissionPolicy in deploy/, in force on the real API server.

The shipped policy and binding (rendered as `kubectl apply -k deploy/` sends them) are
installed for this module. As the plugin's ServiceAccount: the objects the real spec code
builds (receiver Deployment, drop-slot Job) for several Clusters, the 50-character one
included, are admitted, and so is the whole reconcile and janitor path; each kind of
deviation is refused with the policy's message, which says what was refused. A
cluster-admin, and another ServiceAccount of the same name in another namespace, are not
affected.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.models.rbac_v1 import RoleRef, Subject
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import RoleBinding
from lightkube.types import PatchType
from support import admissionpolicies, kubeobjects, kubeplane
from support.admissionpolicies import bearer_client, wait_until
from support.kubecore import janitor_on, reconciler_on
from support.kubeobjects import Cluster
from support.kubepaths import ADMISSION

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import CNPG_MAX_NAME, ClusterView
from cnpg_wal_replica.metadata import RELEASE_IMAGE
from cnpg_wal_replica.specs.job import build_drop_slot_job
from cnpg_wal_replica.specs.names import drop_slot_job_name, receiver_name

pytestmark = [pytest.mark.kube, pytest.mark.slow]

PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
}
LONGEST = "a" + "0123456789-" * 4 + "abcd" + "z"
assert len(LONGEST) == CNPG_MAX_NAME
CLUSTERS = ["pg", "c" * 40, "d" * 41, LONGEST]
"""Names that fit, the longest Job name that fits unchanged, the first shortened, the longest."""
DENIED = "ValidatingAdmissionPolicy 'cnpg-wal-replica' with binding 'cnpg-wal-replica' denied"
OTHER_IMAGE = "registry.example/not-the-plugin:1.0"


def dry_run_create(http: httpx.Client, obj: dict[str, Any], namespace: str) -> httpx.Response:
    return http.post(PATHS[obj["kind"]].format(ns=namespace), params={"dryRun": "All"}, json=obj)


@pytest.fixture(scope="module")
def as_plugin(kube_plane: kubeplane.ControlPlane, plugin_kubeconfig: str) -> Iterator[httpx.Client]:
    """Raw HTTP as the plugin's ServiceAccount, with the shipped policy in force."""
    token = admissionpolicies.kubeconfig_token(plugin_kubeconfig)
    with kube_plane.http() as admin, bearer_client(kube_plane, token) as plugin:

        def in_force() -> bool:
            return DENIED in dry_run_create(plugin, kubeobjects.bare_job(), "default").text

        with admissionpolicies.policies_in_force(admin, in_force=in_force):
            yield plugin


@pytest_asyncio.fixture(loop_scope="session")
async def clusters(kube_admin: AsyncClient, namespace: str) -> dict[str, dict[str, Any]]:
    """Real Clusters (CNPG's CRD admits them) in `namespace`, with the operator's status."""
    return {n: await kubeobjects.create_cluster(kube_admin, namespace, n, {}) for n in CLUSTERS}


def built(cluster: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The receiver Deployment and drop-slot Job the plugin's spec code builds."""
    view = ClusterView.from_dict(cluster)
    _, deployment, *_ = specs.desired_objects(view, config.parse(view, RELEASE_IMAGE))
    return deployment, build_drop_slot_job(view.name, deployment)


def test_the_plugins_own_objects_are_admitted(
    as_plugin: httpx.Client, clusters: dict[str, dict[str, Any]], namespace: str
) -> None:
    for name, cluster in clusters.items():
        for obj in built(cluster):
            response = dry_run_create(as_plugin, obj, namespace)
            assert response.status_code == 201, f"{name}: {response.text}"
    assert len(built(clusters[LONGEST])[1]["metadata"]["name"]) == 63, "the shortened name"


async def test_reconcile_update_and_janitor_run_under_the_policy(
    as_plugin: httpx.Client,
    clusters: dict[str, dict[str, Any]],
    kube_plugin_client: AsyncClient,
    kube_admin: AsyncClient,
    namespace: str,
) -> None:
    reconciler = reconciler_on(kube_plugin_client, RELEASE_IMAGE)
    for name, cluster in clusters.items():
        await reconciler.post(kubeobjects.cluster_bytes(cluster))  # server-side apply: create
        changed = await kube_admin.patch(
            Cluster,
            name,
            {
                "spec": {
                    "plugins": [
                        {"name": kubeobjects.PLUGIN_NAME, "parameters": {"verbose": "true"}}
                    ]
                }
            },
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )
        assert await reconciler.reconcile(ClusterView.from_dict(kubeobjects.cluster_json(changed)))
        await kube_admin.patch(
            Cluster, name, {"spec": {"plugins": []}}, namespace=namespace,
            patch_type=PatchType.MERGE,
        )  # fmt: skip
    sweep = await janitor_on(kube_plugin_client, reconciler).sweep()  # sweeps every namespace
    removed = [n for n, d in sweep.remove if d["metadata"]["namespace"] == namespace]
    assert sorted(removed) == sorted(CLUSTERS)
    assert [name for where, name in sweep.failed if where == namespace] == []
    for name in CLUSTERS:
        job = await kube_admin.get(Job, drop_slot_job_name(name), namespace=namespace)
        assert job.metadata is not None


def mutated(obj: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(obj)
    change(copied)
    return copied


def pod(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def container(obj: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = pod(obj)["containers"][0]
    return first


def security(obj: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = container(obj)["securityContext"]
    return context


Change = Callable[[dict[str, Any]], None]
DEVIATIONS: dict[str, tuple[str, Change, str]] = {
    # id: (kind, change, what the message must say)
    "other image": (
        "Deployment",
        lambda o: container(o).update(image=OTHER_IMAGE),
        f"image {OTHER_IMAGE} is not one the policy allows (ghcr.io/documentdb/",
    ),
    "other command": (
        "Deployment",
        lambda o: container(o).update(command=["sh", "-c", "id"]),
        "the command must be cnpg-wal-replica receive, not sh -c id receive",
    ),
    "other subcommand": (
        "Deployment",
        lambda o: container(o).update(args=["demo"]),
        "the command must be cnpg-wal-replica receive, not cnpg-wal-replica demo",
    ),
    "the Job running receive": (
        "Job",
        lambda o: container(o).update(args=["receive"]),
        "the command must be cnpg-wal-replica drop-slot",
    ),
    "token mounted": (
        "Deployment",
        lambda o: pod(o).update(automountServiceAccountToken=True),
        "automountServiceAccountToken must be false",
    ),
    "token mounted by default": (
        "Job",
        lambda o: pod(o).pop("automountServiceAccountToken"),
        "automountServiceAccountToken must be false",
    ),
    "another ServiceAccount": (
        "Deployment",
        lambda o: pod(o).update(serviceAccountName="admin"),
        "the pod must run as the default ServiceAccount of its namespace",
    ),
    "hostPath": (
        "Deployment",
        lambda o: pod(o)["volumes"].append({"name": "root", "hostPath": {"path": "/"}}),
        "only secret, emptyDir and persistentVolumeClaim volumes, not root",
    ),
    "projected token volume": (
        "Job",
        lambda o: pod(o)["volumes"].append(
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
        ),
        "only secret, emptyDir and persistentVolumeClaim volumes, not token",
    ),
    "hostNetwork": (
        "Deployment",
        lambda o: pod(o).update(hostNetwork=True),
        "hostNetwork, hostPID and hostIPC must be off",
    ),
    "hostPID": ("Job", lambda o: pod(o).update(hostPID=True), "hostNetwork, hostPID and hostIPC"),
    "hostIPC": ("Deployment", lambda o: pod(o).update(hostIPC=True), "hostNetwork, hostPID"),
    "hostPort": (
        "Deployment",
        lambda o: container(o)["ports"][0].update(hostPort=8080),
        "no container port may be a hostPort",
    ),
    "privileged": (
        "Deployment",
        lambda o: security(o).update(privileged=True, allowPrivilegeEscalation=True),
        "the container must be unprivileged",
    ),
    "privilege escalation": (
        "Job",
        lambda o: security(o).update(allowPrivilegeEscalation=True),
        "the container must be unprivileged",
    ),
    "added capability": (
        "Deployment",
        lambda o: security(o)["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities drop ALL and add none",
    ),
    "writable root file system": (
        "Deployment",
        lambda o: security(o).update(readOnlyRootFilesystem=False),
        "readOnlyRootFilesystem true",
    ),
    "runAsUser 0": (
        "Deployment",
        lambda o: pod(o)["securityContext"].update(runAsUser=0, runAsNonRoot=False),
        "it must run as non-root (runAsNonRoot true, runAsUser not 0)",
    ),
    "container runAsUser 0": (
        "Job",
        lambda o: security(o).update(runAsUser=0),
        "it must run as non-root",
    ),
    "runAsNonRoot false": (
        "Deployment",
        lambda o: security(o).update(runAsNonRoot=False),
        "it must run as non-root",
    ),
    "seccomp Unconfined": (
        "Deployment",
        lambda o: pod(o)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "no Unconfined seccomp profile and no sysctls",
    ),
    "a second container": (
        "Deployment",
        lambda o: pod(o)["containers"].append({**container(o), "name": "sidecar"}),
        "the pod must have exactly one container and no init containers",
    ),
    "an init container": (
        "Job",
        lambda o: pod(o).update(initContainers=[{**container(o), "name": "init"}]),
        "exactly one container and no init containers",
    ),
    "exec probe": (
        "Deployment",
        lambda o: container(o).update(livenessProbe={"exec": {"command": ["sh", "-c", "id"]}}),
        "exec probes and lifecycle hooks would run other commands",
    ),
    "lifecycle hook": (
        "Deployment",
        lambda o: container(o).update(lifecycle={"postStart": {"exec": {"command": ["id"]}}}),
        "exec probes and lifecycle hooks",
    ),
    "env from a Secret": (
        "Deployment",
        lambda o: container(o)["env"].append(
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "admin", "key": "token"}}}
        ),
        "environment variables must be plain values (no valueFrom, no envFrom)",
    ),
    "not named for its Cluster": (
        "Deployment",
        lambda o: o["metadata"].update(name="evil"),
        "the name must be that of its Cluster pg followed by -wal-receiver",
    ),
    "a Job named for the receiver": (
        "Job",
        lambda o: o["metadata"].update(name="pg-wal-receiver"),
        "followed by -wal-receiver-drop-slot",
    ),
    "labelled for another Cluster": (
        "Deployment",
        lambda o: o["metadata"]["labels"].update({"cnpg.io/cluster": "other"}),
        "the name must be that of its Cluster other followed by -wal-receiver",
    ),
    "owned by another Cluster": (
        "Deployment",
        lambda o: o["metadata"].update(ownerReferences=[cluster_owner("other")]),
        "it may be owned by nothing but its postgresql.cnpg.io Cluster pg, not "
        "postgresql.cnpg.io/v1 Cluster other",
    ),
    "owned by something else": (
        "Job",
        lambda o: o["metadata"].update(
            ownerReferences=[{**cluster_owner("pg"), "apiVersion": "apps/v1", "kind": "Deployment"}]
        ),
        "it may be owned by nothing but its postgresql.cnpg.io Cluster pg, not apps/v1 "
        "Deployment pg",
    ),
    "no Cluster label": (
        "Deployment",
        lambda o: o["metadata"]["labels"].pop("cnpg.io/cluster"),
        "it must name its Cluster in the label cnpg.io/cluster",
    ),
    "a CNPG role label on its pod": (
        "Deployment",
        lambda o: o["spec"]["template"]["metadata"]["labels"].update(
            {"cnpg.io/instanceRole": "primary"}
        ),
        "pod labels the plugin does not set (they could select its pod into a Service of the "
        "Cluster): cnpg.io/instanceRole",
    ),
}


def cluster_owner(name: str) -> dict[str, Any]:
    """An owner reference to a Cluster (the plugin sets none; older releases did)."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "name": name,
        "uid": str(uuid.uuid4()),
        "controller": True,
    }


@pytest.mark.parametrize("deviation", sorted(DEVIATIONS))
def test_each_deviation_is_refused_with_the_policys_message(
    as_plugin: httpx.Client, clusters: dict[str, dict[str, Any]], namespace: str, deviation: str
) -> None:
    kind, change, message = DEVIATIONS[deviation]
    deployment, job = built(clusters["pg"])
    obj = mutated(deployment if kind == "Deployment" else job, change)
    response = dry_run_create(as_plugin, obj, namespace)
    assert response.status_code in (403, 422), response.text
    text = response.json()["message"]
    assert DENIED in text, text
    assert f"cnpg-wal-replica may not create {kind} {namespace}/{obj['metadata']['name']}: " in text
    assert message in text, text


@pytest.mark.parametrize("namespace_name", ["kube-system", "kube-public", "kube-node-lease"])
def test_system_namespaces_are_refused(
    as_plugin: httpx.Client, clusters: dict[str, dict[str, Any]], namespace_name: str
) -> None:
    for obj in built(clusters["pg"]):
        obj["metadata"]["namespace"] = namespace_name
        response = dry_run_create(as_plugin, obj, namespace_name)
        assert response.status_code in (403, 422), response.text
        assert f"the plugin never writes to the namespace {namespace_name}" in response.text


def test_a_48_character_cluster_job_with_a_foreign_prefix_is_refused(
    as_plugin: httpx.Client, clusters: dict[str, dict[str, Any]], namespace: str
) -> None:
    _, job = built(clusters[LONGEST])
    job["metadata"]["name"] = "x" + job["metadata"]["name"][1:]
    response = dry_run_create(as_plugin, job, namespace)
    assert "followed by -wal-receiver-drop-slot" in response.text, response.text


async def test_a_change_to_a_receiver_is_refused_as_a_change(
    as_plugin: httpx.Client,
    clusters: dict[str, dict[str, Any]],
    kube_plugin_client: AsyncClient,
    namespace: str,
) -> None:
    reconciler = reconciler_on(kube_plugin_client, RELEASE_IMAGE)
    await reconciler.post(kubeobjects.cluster_bytes(clusters["pg"]))
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "receiver", "image": OTHER_IMAGE}]}}}
    }
    with pytest.raises(ApiError) as refused:
        await kube_plugin_client.patch(
            Deployment,
            receiver_name("pg"),
            patch,
            namespace=namespace,
            patch_type=PatchType.STRATEGIC,
            dry_run=True,
        )
    assert refused.value.status.code in (403, 422)
    assert f"cnpg-wal-replica may not change Deployment {namespace}/pg-wal-receiver: image" in (
        str(refused.value.status.message)
    )


def test_an_image_listed_in_extra_images_is_admitted(
    as_plugin: httpx.Client,
    kube_plane: kubeplane.ControlPlane,
    clusters: dict[str, dict[str, Any]],
    namespace: str,
) -> None:
    """The JSON patch docs/installation.md shows, applied to the policy in force."""
    deployment, _ = built(clusters["pg"])
    other = mutated(deployment, lambda o: container(o).update(image=OTHER_IMAGE))
    path = f"{ADMISSION}/validatingadmissionpolicies/cnpg-wal-replica"

    def set_extra(expression: str) -> None:
        ops = [
            {"op": "test", "path": "/spec/variables/1/name", "value": "extraImages"},
            {"op": "replace", "path": "/spec/variables/1/expression", "value": expression},
        ]
        patched = admin.patch(
            path, content=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
        )
        assert patched.status_code == 200, patched.text

    with kube_plane.http() as admin:
        set_extra(f"['{OTHER_IMAGE}']")
        try:
            wait_until(
                lambda: dry_run_create(as_plugin, other, namespace).status_code == 201,
                "the listed image was never admitted",
            )
        finally:
            set_extra("[]")
        wait_until(
            lambda: dry_run_create(as_plugin, other, namespace).status_code != 201,
            "the image stayed admitted",
        )


@pytest_asyncio.fixture(loop_scope="session")
async def namesake(
    kube_plane: kubeplane.ControlPlane, kube_admin: AsyncClient, namespace: str
) -> AsyncIterator[httpx.Client]:
    """A ServiceAccount `cnpg-wal-replica` in another namespace, with the plugin's role there."""
    await kube_admin.create(
        ServiceAccount(
            metadata=ObjectMeta(name=kubeobjects.PLUGIN_SERVICE_ACCOUNT, namespace=namespace)
        )
    )
    await kube_admin.create(
        RoleBinding(
            metadata=ObjectMeta(name=f"namesake-{uuid.uuid4().hex[:6]}", namespace=namespace),
            roleRef=RoleRef(
                apiGroup="rbac.authorization.k8s.io", kind="ClusterRole", name="cnpg-wal-replica"
            ),
            subjects=[
                Subject(
                    kind="ServiceAccount",
                    name=kubeobjects.PLUGIN_SERVICE_ACCOUNT,
                    namespace=namespace,
                )
            ],
        )
    )
    token = await kubeobjects.service_account_token(
        kube_admin, kubeobjects.PLUGIN_SERVICE_ACCOUNT, namespace
    )
    with bearer_client(kube_plane, token) as client:
        yield client


def test_other_users_are_not_affected(
    as_plugin: httpx.Client,
    kube_plane: kubeplane.ControlPlane,
    clusters: dict[str, dict[str, Any]],
    namesake: httpx.Client,
    namespace: str,
) -> None:
    """What the policy refuses the plugin, a cluster-admin (and a namesake) may still do."""
    deployment, _ = built(clusters["pg"])
    anything = mutated(
        deployment,
        lambda o: (
            container(o).update(image=OTHER_IMAGE, command=["sh"]),
            pod(o).update(hostNetwork=True, automountServiceAccountToken=True),
            o["metadata"].update(name="anything"),
        ),
    )
    with kube_plane.http() as admin:
        assert dry_run_create(admin, anything, namespace).status_code == 201
        system = mutated(anything, lambda o: o["metadata"].update(namespace="kube-system"))
        assert dry_run_create(admin, system, "kube-system").status_code == 201
    assert dry_run_create(namesake, anything, namespace).status_code == 201, (
        "system:serviceaccount:<other namespace>:cnpg-wal-replica is another user"
    )
    assert dry_run_create(as_plugin, anything, namespace).status_code in (403, 422)
