"""The reconcile core and the janitor on a lightkube client, wired as `plugin.wiring` does.

For tests against a real API server (`tests/kube`, and the unreachable one in `tests/unit`);
unit tests of reconcile decisions use `support.memory_kube` instead.
"""

from __future__ import annotations

from lightkube import AsyncClient

from cnpg_wal_replica.kube.cache import ObjectCache
from cnpg_wal_replica.kube.connection import KubeApi
from cnpg_wal_replica.plugin.janitor import Janitor
from cnpg_wal_replica.reconcile.reconciler import Reconciler


def reconciler_on(
    client: AsyncClient, receiver_image: str | None, *, cache: ObjectCache | None = None
) -> Reconciler:
    """A Reconciler writing through ``client`` (reading ``cache`` first, if given)."""
    api = KubeApi.on(client, cache=cache)
    return Reconciler(api.applier, api.events, receiver_image=receiver_image)


def janitor_on(client: AsyncClient, reconciler: Reconciler) -> Janitor:
    """A Janitor listing through ``client`` and acting through ``reconciler``."""
    return Janitor(KubeApi.on(client).applier, reconciler)
