"""The CNPG-I services the sidecar offers the instance manager: Identity and WAL/Restore.

The instance manager in a PostgreSQL pod runs ``restore_command`` by calling
``cnpgi.wal.v1.WAL/Restore`` on our socket in ``/plugins``. It sends the Cluster,
``source_wal_name`` (``%f``) and ``destination_file_name`` (``%p``, absolute), no
parameters. Only Restore is implemented; the other WAL calls answer UNIMPLEMENTED, as
GetCapabilities says. Any error fails the restore; NOT_FOUND is the one that means "no such
file", and the instance manager falls back to its other sources for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import structlog

from cnpg_wal_replica._pb import wal_pb2, wal_pb2_grpc
from cnpg_wal_replica.archive.names import MIN_SEGMENT_SIZE
from cnpg_wal_replica.archive.serving import is_request_name
from cnpg_wal_replica.sidecar.client import FetchError
from cnpg_wal_replica.sidecar.restorer import NotInArchiveError, Restorer
from cnpg_wal_replica.transport.identity import Service

log = structlog.get_logger("sidecar")

ADVERTISED_SERVICES = (Service.TYPE_WAL_SERVICE,)
_NOT_OFFERED = "the sidecar only restores WAL (GetCapabilities lists RESTORE_WAL alone)"

_RESTORE = wal_pb2.WALCapability(
    rpc=wal_pb2.WALCapability.RPC(type=wal_pb2.WALCapability.RPC.TYPE_RESTORE_WAL)
)


class WALServicer(wal_pb2_grpc.WALServicer):
    """Restore through a `Restorer`; nothing else."""

    def __init__(self, restorer: Restorer) -> None:
        self._restorer = restorer

    async def GetCapabilities(  # noqa: N802 - gRPC method name
        self,
        request: wal_pb2.WALCapabilitiesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> wal_pb2.WALCapabilitiesResult:
        return wal_pb2.WALCapabilitiesResult(capabilities=[_RESTORE])

    async def Restore(  # noqa: N802 - gRPC method name
        self, request: wal_pb2.WALRestoreRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> wal_pb2.WALRestoreResult:
        name, destination = request.source_wal_name, Path(request.destination_file_name)
        if not is_request_name(name, MIN_SEGMENT_SIZE):  # the smallest size admits every name
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"source_wal_name {name!r} is not a WAL segment or history file name",
            )
        if not destination.is_absolute():
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"destination_file_name {str(destination)!r} is not an absolute path",
            )
        try:
            await self._restorer.restore(name, destination)
        except NotInArchiveError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{name} is not in the archive")
        except FetchError as exc:
            await context.abort(exc.code, f"cannot restore {name}: {exc}")
        except OSError as exc:
            log.error("restore_write_failed", name=name, error=str(exc))
            await context.abort(grpc.StatusCode.INTERNAL, f"cannot write {destination}: {exc}")
        return wal_pb2.WALRestoreResult()

    async def Archive(  # noqa: N802 - gRPC method name
        self, request: wal_pb2.WALArchiveRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> wal_pb2.WALArchiveResult:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_OFFERED)

    async def Status(  # noqa: N802 - gRPC method name
        self, request: wal_pb2.WALStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> wal_pb2.WALStatusResult:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_OFFERED)

    async def SetFirstRequired(  # noqa: N802 - gRPC method name
        self,
        request: wal_pb2.SetFirstRequiredRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> wal_pb2.SetFirstRequiredResult:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, _NOT_OFFERED)
