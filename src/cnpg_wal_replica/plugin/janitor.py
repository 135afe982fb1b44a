"""The loop CNPG does not have: notice Clusters that dropped the plugin, and clean up.

CNPG never tells a plugin that a Cluster stopped using it (CNPG-I spec §3.6). Every
interval the janitor lists Clusters and receiver Deployments and, for a Cluster that exists
but no longer enables the plugin: starts a Job that drops the receiver's replication slot
(an abandoned slot pins WAL on the primary until its disk fills), deletes the Deployment
and its WAL server's Service and Certificate, and labels the PVC as kept. The receiver of a
Cluster that no longer exists is left as it is: it serves the WAL it holds, for recovery.
It also re-creates the receiver of an enabled Cluster whose Deployment went missing,
instead of waiting for CNPG's next full reconcile.
Every step is idempotent, so several plugin replicas may run it at once. Each Cluster is
handled on its own: one that fails is logged and retried next interval, and never keeps
another Cluster's receiver from being removed or re-created.

The janitor is the serve side's loop: it lists through an `Applier` and asks the reconcile
core (`reconcile.reconciler.Reconciler`) to re-create or remove; it writes nothing itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from cnpg_wal_replica import metadata as md
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.kube.interface import Applier
from cnpg_wal_replica.parameters import BY_NAME
from cnpg_wal_replica.specs.labels import selector_labels

log = structlog.get_logger(__name__)


class ReconcilesClusters(Protocol):
    """The part of the Reconciler the janitor uses."""

    async def reconcile(self, view: ClusterView) -> Any:
        """Bring one Cluster's receiver in line."""

    async def remove_receiver(self, cluster_name: str, deployment: dict[str, Any]) -> None:
        """Remove the receiver of a Cluster that dropped the plugin (the PVC is kept)."""


@dataclass(frozen=True)
class Sweep:
    """What one pass decided: receivers to remove and Clusters to re-create receivers for.

    ``failed`` holds the ``(namespace, cluster)`` whose step failed in this pass;
    ``synchronous`` the enabled Clusters whose ``synchronous`` parameter is active.
    """

    remove: tuple[tuple[str, dict[str, Any]], ...]
    recreate: tuple[ClusterView, ...]
    failed: tuple[tuple[str, str], ...] = ()
    synchronous: tuple[tuple[str, str], ...] = ()


def plan_sweep(clusters: list[ClusterView], deployments: list[dict[str, Any]]) -> Sweep:
    """Pure: compare Clusters with the receiver Deployments that exist."""
    by_key = {(c.namespace, c.name): c for c in clusters}
    existing = set()
    remove = []
    for deployment in deployments:
        meta = deployment["metadata"]
        cluster_name = meta.get("labels", {}).get(md.LABEL_APP_INSTANCE, "")
        existing.add((meta["namespace"], cluster_name))
        view = by_key.get((meta["namespace"], cluster_name))
        if view is not None and not view.plugin_enabled and not view.deleting:
            remove.append((cluster_name, deployment))
    recreate = tuple(
        c
        for c in clusters
        if c.plugin_enabled
        and not c.deleting
        and (c.namespace, c.name) not in existing
        and c.raw.get("status", {}).get("writeService")
    )
    synchronous = tuple(
        (c.namespace, c.name)
        for c in clusters
        if c.plugin_enabled and not c.deleting and _synchronous_active(c)
    )
    return Sweep(tuple(remove), recreate, synchronous=synchronous)


def _synchronous_active(view: ClusterView) -> bool:
    """The Cluster's ``synchronous`` parameter, parsed as the plugin does (False if invalid)."""
    spec = BY_NAME["synchronous"]
    given = view.plugin.parameters.get(spec.name, spec.default) if view.plugin else spec.default
    try:
        return bool(spec.parse(given))
    except ValueError:
        return False


class Janitor:
    """Runs `plan_sweep` against the API server every interval."""

    def __init__(
        self,
        lister: Applier,
        reconciler: ReconcilesClusters,
        on_sweep: Callable[[Sweep], None] | None = None,
    ) -> None:
        self._lister = lister
        self._reconciler = reconciler
        self._on_sweep = on_sweep

    async def run_forever(self, interval: float) -> None:
        """Sweep, sleep, repeat; a failed sweep is logged and retried next time. Each
        completed sweep goes to ``on_sweep`` (the server's metrics)."""
        while True:
            try:
                sweep = await self.sweep()
                if self._on_sweep is not None:
                    self._on_sweep(sweep)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("janitor_sweep_failed")
            await asyncio.sleep(interval)

    async def sweep(self) -> Sweep:
        """One pass: list, decide, act."""
        clusters = []
        for document in await self._lister.list("Cluster"):
            try:
                clusters.append(ClusterView.from_dict(document))
            except WalReplicaError as exc:  # skipped, never blocking the others
                meta = document.get("metadata") or {}
                log.warning(
                    "cluster_unreadable",
                    cluster=meta.get("name"),
                    namespace=meta.get("namespace"),
                    error=str(exc),
                )
        labels = {k: v for k, v in selector_labels("").items() if k != md.LABEL_APP_INSTANCE}
        deployments = await self._lister.list("Deployment", labels=labels)
        plan = plan_sweep(clusters, deployments)
        failed = []
        for cluster_name, deployment in plan.remove:
            namespace = deployment["metadata"]["namespace"]
            if not await self._isolated(
                "receiver_not_removed",
                cluster_name,
                namespace,
                self._reconciler.remove_receiver(cluster_name, deployment),
            ):
                failed.append((namespace, cluster_name))
        for view in plan.recreate:
            if await self._isolated(
                "receiver_not_recreated",
                view.name,
                view.namespace,
                self._reconciler.reconcile(view),
            ):
                log.info("receiver_recreated", cluster=view.name, namespace=view.namespace)
            else:
                failed.append((view.namespace, view.name))
        return replace(plan, failed=tuple(failed))

    @staticmethod
    async def _isolated(event: str, cluster: str, namespace: str, step: Awaitable[object]) -> bool:
        """Run one Cluster's step; False (logged, retried next sweep) when it failed."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except WalReplicaError as exc:
            log.warning(event, cluster=cluster, namespace=namespace, error=str(exc))
            return False
        except Exception:
            log.exception(event, cluster=cluster, namespace=namespace)
            return False
        return True
