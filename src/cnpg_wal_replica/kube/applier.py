"""Reads what exists and writes only what differs, with server-side apply.

`plan` reads (one GET per object); `execute` writes. Between them the caller can refuse
changes the API server would reject half-way (shrinking a volume), so nothing is
half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx2 as httpx  # lightkube's HTTP client (not httpx): its transport errors
from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import PersistentVolumeClaim, Service
from lightkube.types import CascadeType, PatchType

from cnpg_wal_replica.errors import ApplyError
from cnpg_wal_replica.kube.cache import MISS, ObjectCache
from cnpg_wal_replica.kube.compare import up_to_date
from cnpg_wal_replica.metadata import FIELD_MANAGER, LABEL_KEPT

Certificate = create_namespaced_resource("cert-manager.io", "v1", "Certificate", "certificates")

RESOURCES: dict[str, Any] = {
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "Deployment": Deployment,
    "Job": Job,
    "Service": Service,
    "Certificate": Certificate,
}


class Verb(Enum):
    """What `execute` will do with one object."""

    CREATE = "created"
    UPDATE = "updated"
    NONE = "unchanged"


@dataclass(frozen=True)
class Action:
    """One desired object, the live one (if any), and what to do."""

    desired: dict[str, Any]
    live: dict[str, Any] | None
    verb: Verb

    @property
    def kind(self) -> str:
        """The object's kind."""
        return str(self.desired["kind"])

    @property
    def name(self) -> str:
        """The object's name."""
        return str(self.desired["metadata"]["name"])


def unreachable(error: httpx.TransportError, doing: str) -> ApplyError:
    """An ApplyError naming the API server that could not be reached (UNAVAILABLE)."""
    try:
        where = f" at {error.request.url.scheme}://{error.request.url.netloc.decode()}"
    except RuntimeError:  # no request attached
        where = ""
    reason = str(error) or type(error).__name__
    return ApplyError(
        f"cannot reach the Kubernetes API server{where} to {doing}: {reason}; "
        "the plugin retries on the next reconcile"
    )


def resource_of(kind: str) -> Any:
    """The lightkube resource class for a kind this plugin writes."""
    return RESOURCES[kind]


def _kept_label_set(live: dict[str, Any] | None) -> bool:
    return bool(live and LABEL_KEPT in (live.get("metadata", {}).get("labels") or {}))


def decide(desired: dict[str, Any], live: dict[str, Any] | None) -> Action:
    """Pure: what to do with ``desired`` (stamped by `with_hash`) given the live object."""
    if live is None:
        return Action(desired, live, Verb.CREATE)
    if up_to_date(desired, live) and not _kept_label_set(live):
        return Action(desired, live, Verb.NONE)
    return Action(desired, live, Verb.UPDATE)


class Applier:
    """Get, compare and server-side apply plain-dict objects through lightkube."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        field_manager: str = FIELD_MANAGER,
        cache: ObjectCache | None = None,
    ) -> None:
        self._client = client
        self._field_manager = field_manager
        self._cache = cache

    async def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        """The live object as a dict, or None when it does not exist (cache first)."""
        if self._cache is not None:
            cached = self._cache.lookup(kind, namespace, name)
            if cached is not MISS:
                return cached  # type: ignore[return-value]
        try:
            obj = await self._client.get(resource_of(kind), name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise ApplyError(
                f"cannot read {kind} {namespace}/{name}: {exc.status.message}"
            ) from exc
        except httpx.TransportError as exc:
            raise unreachable(exc, f"read {kind} {namespace}/{name}") from exc
        return dict(obj.to_dict())

    async def plan(self, objects: list[dict[str, Any]]) -> list[Action]:
        """Read each object (stamped by `with_hash`) and decide what to do (reads only)."""
        actions = []
        for obj in objects:
            meta = obj["metadata"]
            live = await self.get(obj["kind"], meta["name"], meta["namespace"])
            actions.append(decide(obj, live))
        return actions

    async def execute(self, actions: list[Action]) -> list[Action]:
        """Apply every action that changes something; returns those that did."""
        done = []
        for action in actions:
            if action.verb is Verb.NONE:
                continue
            if _kept_label_set(action.live):
                await self.patch_labels(
                    action.kind,
                    action.name,
                    action.desired["metadata"]["namespace"],
                    {LABEL_KEPT: None},
                )
            await self.apply(action.desired)
            done.append(action)
        return done

    async def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply ``obj`` as this plugin's field manager."""
        meta = obj["metadata"]
        try:
            live = await self._client.patch(
                resource_of(obj["kind"]),
                meta["name"],
                obj,
                namespace=meta["namespace"],
                patch_type=PatchType.APPLY,
                field_manager=self._field_manager,
                force=True,
            )
        except ApiError as exc:
            raise ApplyError(
                f"the API server refused {obj['kind']} {meta['namespace']}/{meta['name']}: "
                f"{exc.status.message}"
            ) from exc
        except httpx.TransportError as exc:
            where = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
            raise unreachable(exc, f"apply {where}") from exc
        self._remember(obj["kind"], live)

    async def patch_labels(
        self, kind: str, name: str, namespace: str, labels: dict[str, str | None]
    ) -> None:
        """Merge-patch labels (None removes one)."""
        try:
            live = await self._client.patch(
                resource_of(kind),
                name,
                {"metadata": {"labels": labels}},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            raise ApplyError(
                f"cannot label {kind} {namespace}/{name}: {exc.status.message}"
            ) from exc
        except httpx.TransportError as exc:
            raise unreachable(exc, f"label {kind} {namespace}/{name}") from exc
        self._remember(kind, live)

    async def delete(self, kind: str, name: str, namespace: str) -> bool:
        """Delete in the background; False when it was already gone."""
        try:
            await self._client.delete(
                resource_of(kind), name, namespace=namespace, cascade=CascadeType.BACKGROUND
            )
        except ApiError as exc:
            if exc.status.code == 404:
                if self._cache is not None:
                    self._cache.forget(kind, namespace, name)
                return False
            raise ApplyError(
                f"cannot delete {kind} {namespace}/{name}: {exc.status.message}"
            ) from exc
        except httpx.TransportError as exc:
            raise unreachable(exc, f"delete {kind} {namespace}/{name}") from exc
        if self._cache is not None:
            self._cache.forget(kind, namespace, name)
        return True

    async def create(self, obj: dict[str, Any]) -> bool:
        """Create ``obj``; False when it already exists."""
        meta = obj["metadata"]
        try:
            model: Any = resource_of(obj["kind"]).from_dict(obj)
            await self._client.create(model, field_manager=self._field_manager)
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise ApplyError(
                f"cannot create {obj['kind']} {meta['namespace']}/{meta['name']}: "
                f"{exc.status.message}"
            ) from exc
        except httpx.TransportError as exc:
            where = f"{obj['kind']} {meta['namespace']}/{meta['name']}"
            raise unreachable(exc, f"create {where}") from exc
        return True

    def _remember(self, kind: str, live: Any) -> None:
        if self._cache is not None:
            data = dict(live.to_dict())
            data.setdefault("kind", kind)
            self._cache.record(data)
