"""CNPG-I ReconcilerHooks for Clusters: Pre never fails, Post applies the receiver objects."""

from __future__ import annotations

import json
import re
from typing import Any

import grpc
import structlog

from cnpg_wal_replica._pb import reconciler_pb2, reconciler_pb2_grpc
from cnpg_wal_replica.errors import ClusterDecodeError
from cnpg_wal_replica.plugin.core import PluginCore
from cnpg_wal_replica.plugin.status import abort_with

log = structlog.get_logger(__name__)

_Kind = reconciler_pb2.ReconcilerHooksCapability.Kind
_CONTINUE = reconciler_pb2.ReconcilerHooksResult(
    behavior=reconciler_pb2.ReconcilerHooksResult.BEHAVIOR_CONTINUE
)


_LEADING_KIND = re.compile(rb'\A\s*\{\s*"kind"\s*:\s*"([A-Za-z0-9]+)"\s*,')


def kind_of(resource_json: bytes) -> str | None:
    """The top-level ``kind`` of a Kubernetes object's JSON, or ``None`` if unreadable.

    Go's encoding/json writes the embedded TypeMeta first, so the kind is usually the
    first key: read it without decoding tens of KB; otherwise decode the whole object.
    """
    leading = _LEADING_KIND.match(resource_json[:256])
    if leading is not None:
        return leading.group(1).decode()
    try:
        document = json.loads(resource_json)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    kind = document.get("kind")
    return kind if isinstance(kind, str) else None


def hooked(request: reconciler_pb2.ReconcilerHooksRequest) -> tuple[bytes, bytes | None]:
    """The Cluster's bytes, and the hooked resource's bytes when they must be inspected.

    For KIND_CLUSTER the operator sends the same bytes in both fields (CNPG-I §1.3), so
    the kind is known without decoding tens of KB; only a different resource (e.g. a
    Backup) needs its kind read.
    """
    cluster = request.cluster_definition
    resource = request.resource_definition
    if not cluster:
        return resource, resource
    if not resource or resource == cluster:
        return cluster, None
    return cluster, resource


class ReconcilerHooksServicer(reconciler_pb2_grpc.ReconcilerHooksServicer):
    """Hooks only KIND_CLUSTER; anything else is answered CONTINUE untouched."""

    def __init__(self, core: PluginCore) -> None:
        self._core = core
        self._capabilities = reconciler_pb2.ReconcilerHooksCapabilitiesResult(
            reconciler_capabilities=[
                reconciler_pb2.ReconcilerHooksCapability(kind=_Kind.KIND_CLUSTER)
            ]
        )

    async def GetCapabilities(  # noqa: N802
        self,
        request: reconciler_pb2.ReconcilerHooksCapabilitiesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> reconciler_pb2.ReconcilerHooksCapabilitiesResult:
        return self._capabilities

    async def Pre(  # noqa: N802
        self,
        request: reconciler_pb2.ReconcilerHooksRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> reconciler_pb2.ReconcilerHooksResult:
        """Always CONTINUE: an error or requeue here would block the Cluster, failover
        included (CNPG-I §2.6)."""
        cluster, resource = hooked(request)
        if resource is not None and kind_of(resource) != "Cluster":
            return _CONTINUE
        try:
            self._core.pre(cluster)
        except Exception:
            log.exception("rpc.pre_failed_ignored")
        return _CONTINUE

    async def Post(  # noqa: N802
        self,
        request: reconciler_pb2.ReconcilerHooksRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> reconciler_pb2.ReconcilerHooksResult:
        cluster, resource = hooked(request)
        try:
            if resource is not None:
                kind = kind_of(resource)
                if kind is None:
                    raise ClusterDecodeError(
                        "the resource sent to Post is not a JSON object with a 'kind'"
                    )
                if kind != "Cluster":
                    return _CONTINUE
            await self._core.post(cluster)
        except Exception as error:
            await abort_with(context, error, "Post")
        return _CONTINUE
