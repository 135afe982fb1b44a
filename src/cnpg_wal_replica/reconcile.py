"""The plugin's logic behind the CNPG-I services: one pass down the data path.

    Cluster JSON → ClusterView → Configuration → desired objects → plan (reads)
                 → refuse conflicts → execute (writes only what differs) → Events

`Reconciler` implements `plugin.core.PluginCore`; `open_core` wires it to the Kubernetes
API and runs the janitor loop beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import structlog
from lightkube import AsyncClient

from cnpg_wal_replica import checks, config, mutation, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigError, ConfigIssue
from cnpg_wal_replica.kube.applier import Action, Applier, Verb, decide, resource_of
from cnpg_wal_replica.kube.cache import ObjectCache
from cnpg_wal_replica.kube.compare import with_hash
from cnpg_wal_replica.kube.events import EventRecorder
from cnpg_wal_replica.lifecycle import Injector
from cnpg_wal_replica.metadata import SYNCHRONOUS_EVENT
from cnpg_wal_replica.specs.names import drop_slot_job_name, receiver_name

if TYPE_CHECKING:
    from cnpg_wal_replica.kube.janitor import Sweep

log = structlog.get_logger(__name__)

PRE_LOG_INTERVAL = 300.0
PRE_SEEN_SIZE = 1024
CACHED_KINDS = ("Deployment", "PersistentVolumeClaim", "Service", "Certificate")
PREPARED_SIZE = 256

Prepared = tuple[ClusterView, config.Configuration, list[dict[str, Any]]]


class Reconciler:
    """Turns a Cluster into its receiver objects; safe to call concurrently."""

    def __init__(
        self, client: AsyncClient, *, receiver_image: str | None, cache: ObjectCache | None = None
    ) -> None:
        self.applier = Applier(client, cache=cache)
        self.events = EventRecorder(client)
        self.receiver_image = receiver_image
        self.injector = Injector(self.applier, image=receiver_image)
        self._pre_logged: dict[tuple[str, str], float] = {}
        self._pre_seen: OrderedDict[bytes, None] = OrderedDict()
        self._prepared: OrderedDict[bytes, Prepared] = OrderedDict()

    def pre(self, cluster_json: bytes) -> None:
        """Decode and parse only; log configuration problems now and then. Never raises.

        CNPG calls Pre on nearly every reconcile with the same Cluster: a definition seen
        recently (by digest) was already checked, so it costs one hash.
        """
        digest = hashlib.blake2b(cluster_json, digest_size=16).digest()
        if digest in self._pre_seen:
            self._pre_seen.move_to_end(digest)
            return
        self._pre_seen[digest] = None
        if len(self._pre_seen) > PRE_SEEN_SIZE:
            self._pre_seen.popitem(last=False)
        try:
            view = ClusterView.from_json(cluster_json)
            if not view.plugin_enabled:
                return
            _, issues = config.collect(view, self.receiver_image)
        except Exception:
            log.exception("pre_failed")
            return
        if issues:
            key = (view.uid, "; ".join(i.describe() for i in issues))
            now = time.monotonic()
            if now - self._pre_logged.get(key, -PRE_LOG_INTERVAL) >= PRE_LOG_INTERVAL:
                self._pre_logged[key] = now
                log.warning(
                    "invalid_configuration",
                    cluster=view.name,
                    namespace=view.namespace,
                    problems=[i.describe() for i in issues],
                )

    async def post(self, cluster_json: bytes) -> None:
        """Validate, plan and apply; ConfigError (nothing written) on invalid parameters.

        The desired objects of a definition seen recently (by digest) are reused: in a
        steady state Post hashes the request and compares with the cache, nothing more.
        """
        digest = hashlib.blake2b(cluster_json, digest_size=16).digest()
        prepared = self._prepared.get(digest)
        if prepared is not None:
            self._prepared.move_to_end(digest)
            await self.reconcile(prepared[0], prepared)
            return
        view = ClusterView.from_json(cluster_json)
        if not view.plugin_enabled or view.deleting:
            return
        prepared = await self._prepare_or_report(view)
        self._prepared[digest] = prepared
        if len(self._prepared) > PREPARED_SIZE:
            self._prepared.popitem(last=False)
        await self.reconcile(view, prepared)

    def prepare(self, view: ClusterView) -> Prepared:
        """Parse and build the desired objects, stamped with their hash (ConfigError)."""
        configuration = config.parse(view, self.receiver_image)
        return (
            view,
            configuration,
            [with_hash(o) for o in specs.desired_objects(view, configuration)],
        )

    async def _prepare_or_report(self, view: ClusterView) -> Prepared:
        try:
            return self.prepare(view)
        except ConfigError as exc:
            await self._report_invalid(view, exc)
            raise

    async def _report_invalid(self, view: ClusterView, exc: ConfigError) -> None:
        await self.events.record(view, "Warning", "InvalidConfiguration", str(exc))
        log.warning(
            "invalid_configuration",
            cluster=view.name,
            namespace=view.namespace,
            problems=[i.describe() for i in exc.issues],
        )

    async def reconcile(self, view: ClusterView, prepared: Prepared | None = None) -> list[Action]:
        """Bring the receiver objects of ``view`` in line; returns what was written."""
        if not view.plugin_enabled or view.deleting:
            return []
        _, configuration, objects = prepared or await self._prepare_or_report(view)
        actions = await self.applier.plan(objects)
        pvc_action = next(a for a in actions if a.kind == "PersistentVolumeClaim")
        conflicts = checks.volume_conflicts(view, configuration, pvc_action.live)
        if conflicts:
            error = ConfigError(conflicts)
            await self._report_invalid(view, error)
            raise error
        deferred = checks.defer_resize_until_bound(pvc_action.desired, pvc_action.live)
        if deferred is not None:
            actions = [
                decide(with_hash(deferred), a.live) if a is pvc_action else a for a in actions
            ]
            await self.events.record(
                view,
                "Normal",
                "ResizeDeferred",
                f"PVC {pvc_action.name} is not bound yet; it grows to "
                f"{configuration.wal_pvc_size} once bound",
            )
        if any(a.kind == "Deployment" and a.verb is Verb.CREATE for a in actions):
            # A slot-dropping Job left from an earlier removal must not drop the new slot.
            await self.applier.delete("Job", drop_slot_job_name(view.name), view.namespace)
        done = await self.applier.execute(actions)
        for action in done:
            log.info(
                "receiver_object_written",
                cluster=view.name,
                namespace=view.namespace,
                kind=action.kind,
                name=action.name,
                action=action.verb.value,
            )
            reason = "ReceiverCreated" if action.verb is Verb.CREATE else "ReceiverUpdated"
            await self.events.record(
                view, "Normal", reason, f"{action.kind} {action.name} {action.verb.value}"
            )
        advice = checks.synchronous_advice(view, configuration)
        if advice:
            await self.events.record(view, "Warning", SYNCHRONOUS_EVENT, advice)
            log.warning("synchronous_not_effective", cluster=view.name, advice=advice)
        return done

    async def lifecycle(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        """The restore sidecar's patch for a reading Cluster's Pod or Job."""
        return await self.injector.hook(operation, cluster_json, object_json)

    def validate_create(self, cluster_json: bytes) -> tuple[ConfigIssue, ...]:
        """Every problem with a new Cluster's parameters."""
        view = ClusterView.from_json(cluster_json)
        return config.collect(view, self.receiver_image)[1] if view.plugin_enabled else ()

    def validate_change(self, old_json: bytes, new_json: bytes) -> tuple[ConfigIssue, ...]:
        """Every problem with a change, including forbidden changes."""
        new = ClusterView.from_json(new_json)
        if not new.plugin_enabled:
            return ()
        return config.check_change(ClusterView.from_json(old_json), new, self.receiver_image)

    def mutate(self, cluster_json: bytes) -> bytes:
        """A JSON patch adding the static defaults to this plugin's parameters."""
        view = ClusterView.from_json(cluster_json)
        return mutation.to_json_patch(mutation.defaults_patch(view, view.raw))

    async def status(self, cluster_json: bytes) -> dict[str, Any]:
        """What the receiver of this Cluster looks like now (objects, configuration, problems)."""
        view = ClusterView.from_json(cluster_json)
        configuration, issues = config.collect(view, self.receiver_image)
        problems = [i.describe() for i in issues]
        name = receiver_name(view.name)
        deployment = await self.applier.get("Deployment", name, view.namespace)
        pvc = await self.applier.get("PersistentVolumeClaim", name, view.namespace)
        if configuration is not None:
            advice = checks.synchronous_advice(view, configuration)
            problems += [advice] if advice else []
        return {
            "receiver": name,
            "deployment": _deployment_status(deployment),
            "pvc": _pvc_status(pvc),
            "configuration": configuration.as_dict() if configuration else None,
            "problems": problems,
        }


def _deployment_status(obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        return {"present": False}
    status = obj.get("status", {})
    return {"present": True, "readyReplicas": status.get("readyReplicas", 0)}


def _pvc_status(obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        return {"present": False}
    status = obj.get("status", {})
    return {
        "present": True,
        "phase": status.get("phase", ""),
        "capacity": status.get("capacity", {}).get("storage", ""),
    }


@contextlib.asynccontextmanager
async def open_core(
    *,
    receiver_image: str | None,
    janitor_interval: float,
    on_sweep: Callable[[Sweep], None] | None = None,
) -> AsyncIterator[Reconciler]:
    """A Reconciler on the in-cluster (or kubeconfig) API, with the janitor running beside it
    (``on_sweep`` sees each sweep it completes)."""
    from cnpg_wal_replica.kube.janitor import Janitor

    client = AsyncClient(field_manager="cnpg-wal-replica")
    cache = ObjectCache(client, {kind: resource_of(kind) for kind in CACHED_KINDS})
    cache.start()
    reconciler = Reconciler(client, receiver_image=receiver_image, cache=cache)
    janitor = Janitor(client, reconciler, on_sweep)
    task = asyncio.create_task(janitor.run_forever(janitor_interval), name="janitor")
    try:
        yield reconciler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await cache.stop()
        await client.close()
