"""A watch-fed cache of the receiver objects, so a steady-state Post reads nothing.

One list-then-watch loop per kind (receiver Deployments and PVCs, selected by our labels,
in every namespace). Until the first list of every kind has completed, `lookup` answers
`MISS` and the applier reads from the API server instead. Writes the plugin makes are
recorded at once (write-through), so the next Post sees them before their watch event.
After any watch error the kind is listed again from scratch, which also catches deletions
missed in between.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

import structlog
from lightkube import AsyncClient

from cnpg_wal_replica import metadata as md

log = structlog.get_logger(__name__)

MISS: Final = object()
"""`lookup` result when the cache cannot answer (not synced yet, or a kind it does not hold)."""

RELIST_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)

Key = tuple[str, str, str]


def cache_labels() -> dict[str, Any]:
    """The label selector of every receiver object (all clusters)."""
    return {md.LABEL_APP_NAME: md.APP_NAME, md.LABEL_APP_COMPONENT: md.COMPONENT}


def key_of(obj: dict[str, Any]) -> Key:
    """The cache key of an object dict."""
    meta = obj["metadata"]
    return (str(obj["kind"]), str(meta["namespace"]), str(meta["name"]))


class ObjectCache:
    """Receiver objects by (kind, namespace, name), kept current by watches."""

    def __init__(self, client: AsyncClient, resources: dict[str, Any]) -> None:
        self._client = client
        self._resources = resources
        self._store: dict[Key, dict[str, Any]] = {}
        self._synced: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def synced(self) -> bool:
        """Whether every kind has been listed at least once since the last error."""
        return self._synced == set(self._resources)

    def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | object | None:
        """The cached object, None when it does not exist, or MISS when unknown."""
        if kind not in self._synced:
            return MISS
        return self._store.get((kind, namespace, name))

    def record(self, obj: dict[str, Any]) -> None:
        """Remember an object the plugin just wrote (the API server's answer)."""
        if obj.get("kind") in self._resources:
            self._store[key_of(obj)] = obj

    def forget(self, kind: str, namespace: str, name: str) -> None:
        """Drop an object the plugin just deleted."""
        self._store.pop((kind, namespace, name), None)

    def start(self) -> None:
        """Start one list-and-watch task per kind."""
        for kind in self._resources:
            self._tasks.append(asyncio.create_task(self._follow(kind), name=f"cache-{kind}"))

    async def stop(self) -> None:
        """Cancel the watch tasks."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def wait_synced(self, within: float) -> bool:
        """Wait until every kind is listed, at most ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while not self.synced:
            if asyncio.get_running_loop().time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _follow(self, kind: str) -> None:
        resource = self._resources[kind]
        failures = 0
        while True:
            try:
                await self._relist(kind, resource)
                failures = 0
                async for event, obj in self._client.watch(
                    resource, namespace="*", labels=cache_labels()
                ):
                    self._apply_event(kind, event, dict(obj.to_dict()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._synced.discard(kind)
                delay = RELIST_DELAYS[min(failures, len(RELIST_DELAYS) - 1)]
                failures += 1
                log.warning("cache_watch_failed", kind=kind, error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)

    async def _relist(self, kind: str, resource: Any) -> None:
        fresh = {}
        async for obj in self._client.list(resource, namespace="*", labels=cache_labels()):
            data = dict(obj.to_dict())
            data.setdefault("kind", kind)
            fresh[key_of(data)] = data
        for key in [k for k in self._store if k[0] == kind]:
            del self._store[key]
        self._store.update(fresh)
        self._synced.add(kind)

    def _apply_event(self, kind: str, event: str, obj: dict[str, Any]) -> None:
        obj.setdefault("kind", kind)
        if event == "DELETED":
            self._store.pop(key_of(obj), None)
        else:
            self._store[key_of(obj)] = obj
