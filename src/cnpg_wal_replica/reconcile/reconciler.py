"""One pass down the data path, on the Applier and EventSink the server hands over.

    Cluster JSON → ClusterView → Configuration → desired objects → plan (reads)
                 → refuse PVC conflicts → execute (writes only what differs) → Events

`Reconciler` implements `plugin.core.PluginCore`; the janitor (serve side) calls
`reconcile` and `remove_receiver`.
"""

from __future__ import annotations

from typing import Any

import structlog

from cnpg_wal_replica import checks, config, mutation, specs
from cnpg_wal_replica import metadata as md
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigError, ConfigIssue
from cnpg_wal_replica.kube import actions
from cnpg_wal_replica.kube.actions import Action, Verb
from cnpg_wal_replica.kube.compare import with_hash
from cnpg_wal_replica.kube.interface import Applier, EventSink
from cnpg_wal_replica.lifecycle import Injector
from cnpg_wal_replica.lru import Recent
from cnpg_wal_replica.reconcile.pre import PreCheck, digest_of
from cnpg_wal_replica.reconcile.report import receiver_status
from cnpg_wal_replica.specs import pvc_policy
from cnpg_wal_replica.specs.job import build_drop_slot_job
from cnpg_wal_replica.specs.names import (
    drop_slot_job_name,
    receiver_name,
    server_certificate_name,
)

log = structlog.get_logger(__name__)

PREPARED_SIZE = 256
"""Cluster definitions whose desired objects are remembered."""

Prepared = tuple[ClusterView, config.Configuration, list[dict[str, Any]]]


class Reconciler:
    """Turns a Cluster into its receiver objects; safe to call concurrently."""

    def __init__(self, applier: Applier, events: EventSink, *, receiver_image: str | None) -> None:
        self._applier = applier
        self._events = events
        self.receiver_image = receiver_image
        self._injector = Injector(applier, image=receiver_image)
        self._pre = PreCheck(receiver_image)
        self._prepared: Recent[bytes, Prepared] = Recent(PREPARED_SIZE)

    def pre(self, cluster_json: bytes) -> None:
        """Parse a definition not seen recently and log its problems (`reconcile.pre`)."""
        self._pre(cluster_json)

    async def post(self, cluster_json: bytes) -> None:
        """Validate, plan and apply; ConfigError (nothing written) on invalid parameters.

        The desired objects of a definition seen recently (by digest) are reused: in a
        steady state Post hashes the request and compares with the cache, nothing more.
        """
        digest = digest_of(cluster_json)
        prepared = self._prepared.get(digest)
        if prepared is not None:
            await self.reconcile(prepared[0], prepared)
            return
        view = ClusterView.from_json(cluster_json)
        if not view.plugin_enabled or view.deleting:
            return
        prepared = await self._prepare_or_report(view)
        self._prepared.put(digest, prepared)
        await self.reconcile(view, prepared)

    def prepare(self, view: ClusterView) -> Prepared:
        """Parse and build the desired objects, stamped with their hash (ConfigError)."""
        configuration = config.parse(view, self.receiver_image)
        objects = specs.desired_objects(view, configuration)
        return (view, configuration, [with_hash(o) for o in objects])

    async def _prepare_or_report(self, view: ClusterView) -> Prepared:
        try:
            return self.prepare(view)
        except ConfigError as exc:
            await self._report_invalid(view, exc)
            raise

    async def _report_invalid(self, view: ClusterView, exc: ConfigError) -> None:
        await self._events.record(view, "Warning", "InvalidConfiguration", str(exc))
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
        planned = await self._volume_checked(
            view, configuration, await actions.plan(self._applier, objects)
        )
        if any(a.kind == "Deployment" and a.verb is Verb.CREATE for a in planned):
            # A slot-dropping Job left from an earlier removal must not drop the new slot.
            await self._applier.delete("Job", drop_slot_job_name(view.name), view.namespace)
        done = await actions.execute(self._applier, planned)
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
            message = f"{action.kind} {action.name} {action.verb.value}"
            await self._events.record(view, "Normal", reason, message)
        advice = checks.synchronous_advice(view, configuration)
        if advice:
            await self._events.record(view, "Warning", md.SYNCHRONOUS_EVENT, advice)
            log.warning("synchronous_not_effective", cluster=view.name, advice=advice)
        return done

    async def _volume_checked(
        self, view: ClusterView, configuration: config.Configuration, planned: list[Action]
    ) -> list[Action]:
        """The plan under the PVC policy: conflicts refused (ConfigError), growth deferred."""
        pvc = next(a for a in planned if a.kind == "PersistentVolumeClaim")
        conflicts = pvc_policy.volume_conflicts(view, configuration, pvc.live)
        if conflicts:
            error = ConfigError(conflicts)
            await self._report_invalid(view, error)
            raise error
        deferred = pvc_policy.defer_resize_until_bound(pvc.desired, pvc.live)
        if deferred is None:
            return planned
        await self._events.record(
            view,
            "Normal",
            "ResizeDeferred",
            f"PVC {pvc.name} is not bound yet; it grows to {configuration.wal_pvc_size} once bound",
        )
        replanned = actions.decide(with_hash(deferred), pvc.live)
        return [replanned if a is pvc else a for a in planned]

    async def remove_receiver(self, cluster_name: str, deployment: dict[str, Any]) -> None:
        """Drop the slot (through a Job), keep and label the PVC, delete the WAL server's
        Certificate and Service, and the Deployment last.

        The Deployment is what the janitor's next sweep looks for: a pass cut short anywhere
        (the server stopping, an API error) is finished by a later one.
        """
        namespace = deployment["metadata"]["namespace"]
        await self._applier.create(build_drop_slot_job(cluster_name, deployment))
        pvc = receiver_name(cluster_name)
        if await self._applier.get("PersistentVolumeClaim", pvc, namespace) is not None:
            await self._applier.patch_labels(
                "PersistentVolumeClaim", pvc, namespace, pvc_policy.KEPT
            )
        await self._applier.delete("Certificate", server_certificate_name(cluster_name), namespace)
        await self._applier.delete("Service", receiver_name(cluster_name), namespace)
        await self._applier.delete("Deployment", deployment["metadata"]["name"], namespace)
        log.info(
            "receiver_removed",
            cluster=cluster_name,
            namespace=namespace,
            kept_pvc=pvc,
            slot_job=True,
        )

    async def lifecycle(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        """The restore sidecar's patch for a reading Cluster's Pod or Job."""
        return await self._injector.hook(operation, cluster_json, object_json)

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
        name = receiver_name(view.name)
        deployment = await self._applier.get("Deployment", name, view.namespace)
        pvc = await self._applier.get("PersistentVolumeClaim", name, view.namespace)
        return receiver_status(view, configuration, issues, deployment, pvc)
