"""The lightkube-backed `Applier`: reads (cache first), server-side apply, labels, deletes.

Every failure becomes an ``ApplyError`` naming the object (UNAVAILABLE for the operator,
which retries); what to write is decided in `kube.actions`, never here.
"""

from __future__ import annotations

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
from cnpg_wal_replica.metadata import FIELD_MANAGER

Certificate = create_namespaced_resource("cert-manager.io", "v1", "Certificate", "certificates")
Cluster = create_namespaced_resource("postgresql.cnpg.io", "v1", "Cluster", "clusters")

RESOURCES: dict[str, Any] = {
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "Deployment": Deployment,
    "Job": Job,
    "Service": Service,
    "Certificate": Certificate,
    "Cluster": Cluster,
}


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


class KubeApplier:
    """`kube.interface.Applier` through lightkube, reading from an `ObjectCache` if given."""

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

    async def list(
        self, kind: str, *, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``kind`` in every namespace with ``labels``, from the API server."""
        selector: dict[str, Any] | None = dict(labels) if labels is not None else None
        try:
            return [
                {"kind": kind, **obj.to_dict()}
                async for obj in self._client.list(
                    resource_of(kind), namespace="*", labels=selector
                )
            ]
        except ApiError as exc:
            raise ApplyError(f"cannot list {kind}: {exc.status.message}") from exc
        except httpx.TransportError as exc:
            raise unreachable(exc, f"list {kind}") from exc

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
