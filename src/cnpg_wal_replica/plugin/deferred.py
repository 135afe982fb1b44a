"""A ``PluginCore`` that exists before the real one, so the server can serve at once.

The server starts answering Identity (Probe included) before the reconcile logic and its
Kubernetes client are imported and opened: the operator blocks every Cluster that uses the
plugin while it cannot reach it. Until ``attach`` is called:

- ``pre`` does nothing (it may do nothing; it must never fail or block);
- ``post`` and ``status`` wait for the core, up to ``wait_timeout`` (below the operator's
  30 s deadline), then fail with ``CoreNotReadyError`` (UNAVAILABLE: the operator retries);
- the synchronous validate and mutate calls fail with ``CoreNotReadyError`` at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cnpg_wal_replica.errors import ConfigIssue, WalReplicaError
from cnpg_wal_replica.plugin.core import PluginCore


class CoreNotReadyError(WalReplicaError):
    """The plugin server is still starting; the call can be retried in a moment."""


class DeferredCore:
    """Forwards every call to the attached core; see the module docstring for before."""

    def __init__(self, *, wait_timeout: float = 20.0) -> None:
        self._core: PluginCore | None = None
        self._attached = asyncio.Event()
        self._wait_timeout = wait_timeout

    @property
    def ready(self) -> bool:
        return self._core is not None

    def attach(self, core: PluginCore) -> None:
        self._core = core
        self._attached.set()

    def _now(self) -> PluginCore:
        if self._core is None:
            raise CoreNotReadyError("the plugin server is still starting; retry in a few seconds")
        return self._core

    async def _when_ready(self) -> PluginCore:
        if self._core is None:
            try:
                await asyncio.wait_for(self._attached.wait(), self._wait_timeout)
            except TimeoutError:
                raise CoreNotReadyError(
                    f"the plugin server has not finished starting after "
                    f"{self._wait_timeout:g} s; see its logs"
                ) from None
        return self._now()

    def pre(self, cluster_json: bytes) -> None:
        if self._core is not None:
            self._core.pre(cluster_json)

    async def post(self, cluster_json: bytes) -> None:
        await (await self._when_ready()).post(cluster_json)

    def validate_create(self, cluster_json: bytes) -> tuple[ConfigIssue, ...]:
        return self._now().validate_create(cluster_json)

    def validate_change(self, old_json: bytes, new_json: bytes) -> tuple[ConfigIssue, ...]:
        return self._now().validate_change(old_json, new_json)

    def mutate(self, cluster_json: bytes) -> bytes:
        return self._now().mutate(cluster_json)

    async def status(self, cluster_json: bytes) -> dict[str, Any]:
        return await (await self._when_ready()).status(cluster_json)

    async def lifecycle(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        return await (await self._when_ready()).lifecycle(operation, cluster_json, object_json)
