"""The operator's lifecycle hook: inject the restore sidecar into pods that read WAL from us.

CNPG calls `OperatorLifecycle/LifecycleHook` for every plugin a Cluster names in
`spec.plugins` or `spec.externalClusters`, whether or not the object concerns it, so
relevance is decided here (`specs.injection.target`). On CREATE, the reading Cluster's
client Certificate is applied first (server-side apply, skipped when unchanged): the pod
mounts the Secret cert-manager issues for it. EVALUATE writes nothing.

An error blocks the pod or Job (CNPG retries every 15 s and shows the message in the
Cluster's phase), which is right when the source is misconfigured: the pod could not
restore a single file.
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ClusterDecodeError, ConfigError, ConfigIssue
from cnpg_wal_replica.kube import actions
from cnpg_wal_replica.kube.compare import with_hash
from cnpg_wal_replica.kube.interface import Applier
from cnpg_wal_replica.specs.injection import sidecar_patch, target
from cnpg_wal_replica.specs.reader import build_reader_certificate

log = structlog.get_logger(__name__)

CREATE = "CREATE"
"""The verb on which the reader's Certificate is applied (EVALUATE only computes the patch)."""


class Injector:
    """Answers LifecycleHook for Pods and Jobs."""

    def __init__(self, applier: Applier, *, image: str | None) -> None:
        self._applier = applier
        self._image = image

    async def hook(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        """The RFC 6902 patch for the object (``b""``: unchanged).

        Raises ConfigError (invalid source parameters), ClusterDecodeError or ApplyError.
        """
        view = ClusterView.from_json(cluster_json)
        if not view.sources:
            return b""
        obj = _decode(object_json)
        found = target(view, obj)
        if found is None:
            return b""
        if not self._image:
            raise ConfigError(
                (
                    ConfigIssue(
                        ("spec", "externalClusters"),
                        "",
                        "the plugin server has no image for the restore sidecar: start it "
                        "with --receiver-image/PLUGIN_IMAGE (deploy/ sets it)",
                    ),
                )
            )
        patch = sidecar_patch(view, found, self._image, obj)
        if operation == CREATE:
            await self._ensure_certificate(view)
            log.info(
                "sidecar_injected",
                cluster=view.name,
                namespace=view.namespace,
                kind=obj.get("kind"),
                name=(obj.get("metadata") or {}).get("name", ""),
                origin=f"{found.source.namespace}/{found.source.cluster}",
            )
        return json.dumps(patch).encode()

    async def _ensure_certificate(self, view: ClusterView) -> None:
        wanted = with_hash(build_reader_certificate(view))
        await actions.execute(self._applier, await actions.plan(self._applier, [wanted]))


def _decode(object_json: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(object_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ClusterDecodeError(f"the object sent to LifecycleHook is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ClusterDecodeError("the object sent to LifecycleHook is not a JSON object")
    return obj
