"""CNPG-I OperatorLifecycle: Pod CREATE/EVALUATE and Job CREATE, answered by the core.

The operator asks GetCapabilities once per connection and then calls LifecycleHook only
for the kinds and verbs listed here (CNPG-I §2.7). PATCH is not hooked: the operator's
patches of instance pods are derived from the EVALUATE answer it already holds.
"""

from __future__ import annotations

from typing import Any

import grpc

from cnpg_wal_replica._pb import operator_lifecycle_pb2 as pb
from cnpg_wal_replica._pb import operator_lifecycle_pb2_grpc as pb_grpc
from cnpg_wal_replica.plugin.core import PluginCore
from cnpg_wal_replica.plugin.status import abort_with

_Op = pb.OperatorOperationType
HOOKED: tuple[tuple[str, str, tuple[_Op.Type.ValueType, ...]], ...] = (
    ("", "Pod", (_Op.TYPE_CREATE, _Op.TYPE_EVALUATE)),
    ("batch", "Job", (_Op.TYPE_CREATE,)),
)
"""(API group, kind, verbs) the plugin mutates."""
_UNCHANGED = pb.OperatorLifecycleResponse()


class OperatorLifecycleServicer(pb_grpc.OperatorLifecycleServicer):
    """Hands each hooked object to the core; an error blocks that object (CNPG retries)."""

    def __init__(self, core: PluginCore) -> None:
        self._core = core
        self._capabilities = pb.OperatorLifecycleCapabilitiesResponse(
            lifecycle_capabilities=[
                pb.OperatorLifecycleCapabilities(
                    group=group,
                    kind=kind,
                    operation_types=[_Op(type=verb) for verb in verbs],
                )
                for group, kind, verbs in HOOKED
            ]
        )

    async def GetCapabilities(  # noqa: N802
        self,
        request: pb.OperatorLifecycleCapabilitiesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> pb.OperatorLifecycleCapabilitiesResponse:
        return self._capabilities

    async def LifecycleHook(  # noqa: N802
        self, request: pb.OperatorLifecycleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.OperatorLifecycleResponse:
        verb = _Op.Type.Name(request.operation_type.type).removeprefix("TYPE_")
        try:
            patch = await self._core.lifecycle(
                verb, request.cluster_definition, request.object_definition
            )
        except Exception as error:
            await abort_with(context, error, "LifecycleHook")
        return pb.OperatorLifecycleResponse(json_patch=patch) if patch else _UNCHANGED
