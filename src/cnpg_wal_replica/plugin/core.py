"""The seam between the gRPC servicers and the plugin's logic.

Servicers decode nothing themselves: they hand the operator's bytes to a ``PluginCore``
and encode its answer. The real core is ``reconcile.reconciler.Reconciler``, opened by
``plugin.wiring``; tests may pass any object with these methods.
"""

from __future__ import annotations

from typing import Any, Protocol

from cnpg_wal_replica.errors import ConfigIssue


class PluginCore(Protocol):
    """What the CNPG-I services need from the plugin's logic."""

    def pre(self, cluster_json: bytes) -> None:
        """Cheap checks before CNPG reconciles; must not raise and must not block."""

    async def post(self, cluster_json: bytes) -> None:
        """Validate, build and apply the receiver objects.

        Raises ``ConfigError`` (invalid parameters, nothing applied), ``ClusterDecodeError``
        or ``ApplyError``.
        """

    def validate_create(self, cluster_json: bytes) -> tuple[ConfigIssue, ...]:
        """Problems with a new Cluster's parameters (empty when valid)."""

    def validate_change(self, old_json: bytes, new_json: bytes) -> tuple[ConfigIssue, ...]:
        """Problems with a change, including changes that are not allowed."""

    def mutate(self, cluster_json: bytes) -> bytes:
        """An RFC 6902 JSON patch adding defaults to the Cluster; ``b""`` when none."""

    async def status(self, cluster_json: bytes) -> dict[str, Any]:
        """A JSON object describing the receiver of this Cluster (for SetStatusInCluster)."""

    async def lifecycle(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        """An RFC 6902 patch of a Pod or Job the operator creates or evaluates (``b""``:
        unchanged); ``operation`` is CREATE or EVALUATE."""
