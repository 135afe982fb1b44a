"""The watch-fed cache: a steady-state Post sends no request at all to the API server.

Requests are counted by wrapping the plugin client's HTTP transport (lightkube accepts an
httpx transport), so the count covers every request the plugin itself sends; watch
requests of the cache are counted apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.apps_v1 import Deployment
from support import kubeobjects
from support.kubecore import reconciler_on

from cnpg_wal_replica.kube.applier import resource_of
from cnpg_wal_replica.kube.cache import ObjectCache
from cnpg_wal_replica.kube.connection import CACHED_KINDS

pytestmark = pytest.mark.kube

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests by method, watches separately, then passes them on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = "WATCH" if request.url.params.get("watch") == "true" else request.method
        self.requests.append((kind, request.url.path))
        return await self.inner.handle_async_request(request)

    def calls(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "WATCH"]


@pytest_asyncio.fixture(loop_scope="session")
async def counted(plugin_kubeconfig: str) -> AsyncIterator[tuple[AsyncClient, CountingTransport]]:
    config = KubeConfig.from_file(plugin_kubeconfig)
    probe = AsyncClient(config, field_manager="cnpg-wal-replica")
    # Reuse lightkube's own TLS and auth set-up; only the transport is wrapped.
    inner = probe._client._client._transport
    transport = CountingTransport(inner)
    client = AsyncClient(config, field_manager="cnpg-wal-replica", transport=transport)
    yield client, transport
    await client.close()
    await probe.close()


async def test_steady_state_post_makes_no_request(
    counted: tuple[AsyncClient, CountingTransport], kube_admin: AsyncClient, namespace: str
) -> None:
    client, transport = counted
    cache = ObjectCache(client, {kind: resource_of(kind) for kind in CACHED_KINDS})
    cache.start()
    try:
        assert await cache.wait_synced(within=20)
        reconciler = reconciler_on(client, IMAGE, cache=cache)
        cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {"verbose": "true"})
        body = kubeobjects.cluster_bytes(cluster)
        await reconciler.post(body)
        before = len(transport.calls())
        for _ in range(5):
            await reconciler.post(body)
        assert transport.calls()[before:] == [], "steady-state Posts must neither read nor write"

        # Someone deletes the receiver: the watch tells the cache, the next Post re-creates it.
        await kube_admin.delete(Deployment, "pg-wal-receiver", namespace=namespace)
        for _ in range(100):
            if cache.lookup("Deployment", namespace, "pg-wal-receiver") is None:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the cache never saw the deletion")
        await reconciler.post(body)
        recreated = await kube_admin.get(Deployment, "pg-wal-receiver", namespace=namespace)
        assert recreated.metadata is not None
        assert recreated.metadata.name == "pg-wal-receiver"
    finally:
        await cache.stop()


async def test_unsynced_cache_falls_back_to_reads(
    counted: tuple[AsyncClient, CountingTransport], kube_admin: AsyncClient, namespace: str
) -> None:
    client, transport = counted
    cache = ObjectCache(client, {kind: resource_of(kind) for kind in CACHED_KINDS})
    reconciler = reconciler_on(client, IMAGE, cache=cache)  # never started
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    before = len(transport.calls())
    await reconciler.post(kubeobjects.cluster_bytes(cluster))
    methods = [method for method, _ in transport.calls()[before:]]
    # The PVC, the Deployment, the WAL server's Certificate and Service, from the API.
    assert methods.count("GET") == len(CACHED_KINDS) == 4, methods
    assert methods.count("PATCH") == 4, methods  # all created by server-side apply
