"""What the reconcile path needs from the Kubernetes API, as two Protocols.

`Applier` is every read and write the reconciler, the lifecycle hook and the janitor make;
`EventSink` posts Events on a Cluster. The server passes the lightkube-backed ones
(`kube.applier.KubeApplier`, `kube.events.EventRecorder`, opened by `kube.connection`);
unit tests pass an in-memory store (`tests/support/memory_kube.py`), so every reconcile
decision can be checked without an API server.
"""

from __future__ import annotations

from typing import Any, Protocol

from cnpg_wal_replica.cluster import ClusterView


class Applier(Protocol):
    """Plain-dict objects by kind, namespace and name; failures raise ``ApplyError``."""

    async def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        """The live object, or None when it does not exist (from a cache where there is one)."""

    async def list(
        self, kind: str, *, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``kind`` in every namespace carrying ``labels``, from the API."""

    async def apply(self, obj: dict[str, Any]) -> None:
        """Server-side apply ``obj`` as the plugin's field manager (create or update)."""

    async def create(self, obj: dict[str, Any]) -> bool:
        """Create ``obj``; False when it already exists."""

    async def patch_labels(
        self, kind: str, name: str, namespace: str, labels: dict[str, str | None]
    ) -> None:
        """Merge-patch labels (None removes one)."""

    async def delete(self, kind: str, name: str, namespace: str) -> bool:
        """Delete in the background; False when it was already gone."""


class EventSink(Protocol):
    """Posts Events about a Cluster; best effort, never raises."""

    async def record(self, view: ClusterView, event_type: str, reason: str, message: str) -> bool:
        """Post one Event (or skip a recent duplicate); True when posted."""
