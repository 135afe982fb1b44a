"""The ClusterRole in deploy/ grants exactly what the plugin's requests need, no more.

The plugin (as its ServiceAccount, bound to the shipped ClusterRole) goes through every path
that talks to the API server: the watch cache, Post before the cache has synced (reads go to
the API server), a parameter change, an invalid parameter (an Event), removal by the janitor
(drop-slot Job, Deployment deleted, PVC labelled kept) and re-enabling (the kept label
removed, the old Job deleted). The verbs are then read from the API server's audit log, which
logs every request of the plugin's user (`kubeplane.READS_AUDITED_FOR`): a server-side apply
that created its object (201) needs `create` besides `patch`, as the API server checks both.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.types import PatchType
from support import kubeobjects, kubeplane
from support.kubecore import janitor_on, reconciler_on
from support.kubeobjects import Cluster
from support.kubewait import settle_audit

from cnpg_wal_replica.errors import ConfigError
from cnpg_wal_replica.kube.applier import resource_of
from cnpg_wal_replica.kube.cache import ObjectCache
from cnpg_wal_replica.kube.connection import CACHED_KINDS

pytestmark = pytest.mark.kube

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
SOURCE = Path(__file__).resolve().parents[2] / "src" / "cnpg_wal_replica"
LIGHTKUBE_VERBS = {
    "get": "get",
    "list": "list",
    "watch": "watch",
    "create": "create",
    "patch": "patch",
    "apply": "patch",
    "replace": "update",
    "delete": "delete",
    "deletecollection": "deletecollection",
}
"""lightkube's AsyncClient methods and the RBAC verb of the request each one sends."""

Rules = dict[tuple[str, str], set[str]]


def granted_rules() -> Rules:
    granted: Rules = {}
    for role in kubeobjects.shipped_cluster_roles():
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def needed_rules(requests: list[dict[str, Any]]) -> Rules:
    needed: Rules = {}
    for request in requests:
        ref = request["objectRef"]
        resource = ref["resource"] + (f"/{ref['subresource']}" if "subresource" in ref else "")
        verbs = needed.setdefault((ref.get("apiGroup", ""), resource), set())
        verbs.add(request["verb"])
        if request["verb"] == "patch" and request["responseStatus"]["code"] == 201:
            verbs.add("create")  # a server-side apply that creates is authorized as create too
    return needed


def client_methods_called() -> set[str]:
    """Every `<something>._client.<method>(...)` in the package: its lightkube calls."""
    methods = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "_client"
            ):
                methods.add(node.func.attr)
    return methods


async def set_plugins(client: AsyncClient, namespace: str, plugins: list[Any]) -> bytes:
    patched = await client.patch(
        Cluster, "pg", {"spec": {"plugins": plugins}}, namespace=namespace,
        patch_type=PatchType.MERGE,
    )  # fmt: skip
    return kubeobjects.cluster_bytes(patched)


async def every_plugin_request(plugin: AsyncClient, admin: AsyncClient, namespace: str) -> None:
    """Each way the plugin server reads and writes, as its ServiceAccount."""
    cache = ObjectCache(plugin, {kind: resource_of(kind) for kind in CACHED_KINDS})
    cache.start()
    try:
        assert await cache.wait_synced(10), "the cache lists and watches"
        reconciler = reconciler_on(plugin, IMAGE)  # reads go to the API server
        cluster = await kubeobjects.create_cluster(admin, namespace, "pg", {})
        await reconciler.post(kubeobjects.cluster_bytes(cluster))
        enabled = {"name": kubeobjects.PLUGIN_NAME, "parameters": {"verbose": "true"}}
        await reconciler.post(await set_plugins(admin, namespace, [enabled]))
        invalid = {"name": kubeobjects.PLUGIN_NAME, "parameters": {"walPVCSize": "a lot"}}
        with pytest.raises(ConfigError):
            await reconciler.post(await set_plugins(admin, namespace, [invalid]))
        await set_plugins(admin, namespace, [])
        sweep = await janitor_on(plugin, reconciler).sweep()  # every namespace: earlier tests' too
        mine = [n for n, d in sweep.remove if d["metadata"]["namespace"] == namespace]
        assert mine == ["pg"]
        assert [name for where, name in sweep.failed if where == namespace] == []
        await reconciler.post(await set_plugins(admin, namespace, [enabled]))
    finally:
        await cache.stop()


async def test_the_cluster_role_grants_exactly_what_the_plugin_requests(
    kube_plane: kubeplane.ControlPlane,
    kube_admin: AsyncClient,
    kube_plugin_client: AsyncClient,
    namespace: str,
) -> None:
    assert kubeobjects.PLUGIN_USER in kubeplane.READS_AUDITED_FOR
    offset = kube_plane.audit_offset()

    await every_plugin_request(kube_plugin_client, kube_admin, namespace)

    await settle_audit(kube_plane, kube_admin, namespace, offset)
    requests = kube_plane.audit_requests(offset, user=kubeobjects.PLUGIN_USER)
    decisions = [r.get("annotations", {}).get("authorization.k8s.io/decision") for r in requests]
    refused = [r["requestURI"] for r, d in zip(requests, decisions, strict=True) if d != "allow"]
    assert refused == [], "RBAC refused these: the shipped ClusterRole is not enough"
    needed = needed_rules(requests)
    assert needed == granted_rules()
    used_verbs = set().union(*needed.values())
    called = {LIGHTKUBE_VERBS[m] for m in client_methods_called()}
    assert called <= used_verbs, f"a lightkube call the scenario never made: {called - used_verbs}"
