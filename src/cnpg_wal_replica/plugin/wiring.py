"""The serve side's composition: the Kubernetes API, the Reconciler on it, the janitor beside.

    kube.connection.open_api()   client, watch-fed cache, Applier and EventSink
    reconcile.Reconciler         the plugin's logic, handed that Applier and EventSink
    plugin.janitor.Janitor       lists through the Applier, asks the Reconciler to act

`open_core` is the server's real `CoreFactory` argument (imported lazily by `plugin.cli`,
so `--help` never imports lightkube).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from cnpg_wal_replica.kube.connection import open_api
from cnpg_wal_replica.plugin.janitor import Janitor, Sweep
from cnpg_wal_replica.reconcile.reconciler import Reconciler


@contextlib.asynccontextmanager
async def open_core(
    *,
    receiver_image: str | None,
    janitor_interval: float,
    on_sweep: Callable[[Sweep], None] | None = None,
) -> AsyncIterator[Reconciler]:
    """A Reconciler on the in-cluster (or kubeconfig) API, with the janitor running beside it
    (``on_sweep`` sees each sweep it completes: the server's metrics)."""
    async with open_api() as api:
        reconciler = Reconciler(api.applier, api.events, receiver_image=receiver_image)
        janitor = Janitor(api.applier, reconciler, on_sweep)
        task = asyncio.create_task(janitor.run_forever(janitor_interval), name="janitor")
        try:
            yield reconciler
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
