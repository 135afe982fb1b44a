"""The plugin's connection to the Kubernetes API: one client, its cache, its Applier and Events.

`open_api()` is the only place a client is built for the server (in-cluster ServiceAccount
or kubeconfig); `KubeApi.on(client)` wraps one a test already has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from lightkube import AsyncClient

from cnpg_wal_replica.kube.applier import KubeApplier, resource_of
from cnpg_wal_replica.kube.cache import ObjectCache
from cnpg_wal_replica.kube.events import EventRecorder
from cnpg_wal_replica.metadata import FIELD_MANAGER

CACHED_KINDS = ("Deployment", "PersistentVolumeClaim", "Service", "Certificate")
"""The receiver objects a steady-state Post reads, answered from watches."""


def receiver_cache(client: AsyncClient) -> ObjectCache:
    """A (not yet started) cache of every receiver object the reconciler reads."""
    return ObjectCache(client, {kind: resource_of(kind) for kind in CACHED_KINDS})


@dataclass(frozen=True)
class KubeApi:
    """What the reconcile path writes through (`kube.interface`), on one client."""

    applier: KubeApplier
    events: EventRecorder

    @classmethod
    def on(cls, client: AsyncClient, *, cache: ObjectCache | None = None) -> KubeApi:
        """The Applier (reading ``cache`` first, if given) and Events on ``client``."""
        return cls(KubeApplier(client, cache=cache), EventRecorder(client))


@contextlib.asynccontextmanager
async def open_api() -> AsyncIterator[KubeApi]:
    """A client on the in-cluster (or kubeconfig) API with its watch-fed cache running."""
    client = AsyncClient(field_manager=FIELD_MANAGER)
    cache = receiver_cache(client)
    cache.start()
    try:
        yield KubeApi.on(client, cache=cache)
    finally:
        await cache.stop()
        await client.close()
