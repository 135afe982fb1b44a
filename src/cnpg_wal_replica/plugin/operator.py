"""CNPG-I Operator: validation, defaulting and the status the operator stores in the Cluster.

CNPG 1.24+ calls only GetCapabilities and SetStatusInCluster; the validate and mutate RPCs
run the same code path as Post so a future operator that calls them gets the same answers.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

from cnpg_wal_replica._pb import operator_pb2, operator_pb2_grpc
from cnpg_wal_replica.plugin.core import PluginCore
from cnpg_wal_replica.plugin.status import abort_with, validation_errors

_RPC = operator_pb2.OperatorCapability.RPC


def advertised_rpcs(*, enable_set_status: bool) -> tuple[_RPC.Type.ValueType, ...]:
    """Operator RPCs to advertise. SET_STATUS only on request: cnpg bug #11385 (§2.5)
    makes every non-empty status flap and requeue the Cluster every 5 s."""
    rpcs = [
        _RPC.TYPE_VALIDATE_CLUSTER_CREATE,
        _RPC.TYPE_VALIDATE_CLUSTER_CHANGE,
        _RPC.TYPE_MUTATE_CLUSTER,
    ]
    if enable_set_status:
        rpcs.append(_RPC.TYPE_SET_STATUS_IN_CLUSTER)
    return tuple(rpcs)


class OperatorServicer(operator_pb2_grpc.OperatorServicer):
    """Decode nothing, call the core, encode its answer."""

    def __init__(self, core: PluginCore, *, enable_set_status: bool) -> None:
        self._core = core
        self._capabilities = operator_pb2.OperatorCapabilitiesResult(
            capabilities=[
                operator_pb2.OperatorCapability(rpc=_RPC(type=kind))
                for kind in advertised_rpcs(enable_set_status=enable_set_status)
            ]
        )

    async def GetCapabilities(  # noqa: N802
        self,
        request: operator_pb2.OperatorCapabilitiesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> operator_pb2.OperatorCapabilitiesResult:
        return self._capabilities

    async def ValidateClusterCreate(  # noqa: N802
        self,
        request: operator_pb2.OperatorValidateClusterCreateRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> operator_pb2.OperatorValidateClusterCreateResult:
        try:
            issues = self._core.validate_create(request.definition)
        except Exception as error:
            await abort_with(context, error, "ValidateClusterCreate")
        return operator_pb2.OperatorValidateClusterCreateResult(
            validation_errors=validation_errors(issues)
        )

    async def ValidateClusterChange(  # noqa: N802
        self,
        request: operator_pb2.OperatorValidateClusterChangeRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> operator_pb2.OperatorValidateClusterChangeResult:
        try:
            issues = self._core.validate_change(request.old_cluster, request.new_cluster)
        except Exception as error:
            await abort_with(context, error, "ValidateClusterChange")
        return operator_pb2.OperatorValidateClusterChangeResult(
            validation_errors=validation_errors(issues)
        )

    async def MutateCluster(  # noqa: N802
        self,
        request: operator_pb2.OperatorMutateClusterRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> operator_pb2.OperatorMutateClusterResult:
        try:
            patch = self._core.mutate(request.definition)
        except Exception as error:
            await abort_with(context, error, "MutateCluster")
        return operator_pb2.OperatorMutateClusterResult(json_patch=patch)

    async def SetStatusInCluster(  # noqa: N802
        self,
        request: operator_pb2.SetStatusInClusterRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> operator_pb2.SetStatusInClusterResponse:
        try:
            status = await self._core.status(request.cluster)
            if not isinstance(status, dict):
                raise TypeError(f"core.status returned {type(status).__name__}, not a dict")
            encoded = json.dumps(status, separators=(",", ":"), sort_keys=True).encode()
        except Exception as error:
            await abort_with(context, error, "SetStatusInCluster")
        return operator_pb2.SetStatusInClusterResponse(json_status=encoded)

    async def Deregister(  # noqa: N802
        self, request: operator_pb2.DeregisterRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> operator_pb2.DeregisterResponse:
        """Never called by CNPG (nor advertised); clean-up is the janitor's job."""
        return operator_pb2.DeregisterResponse()
