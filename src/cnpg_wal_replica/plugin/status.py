"""The one place where the plugin's errors become gRPC status codes or ValidationErrors.

ConfigError          → INVALID_ARGUMENT, message names parameter, bad value and a fix
                       (the operator shows it as the Cluster's phase reason)
ClusterDecodeError   → INVALID_ARGUMENT
ApplyError           → UNAVAILABLE (the operator retries the reconcile in 15 s)
CoreNotReadyError    → UNAVAILABLE (the server is still starting)
anything else        → INTERNAL with a generic message; traceback logged, never sent
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

import grpc
import structlog

from cnpg_wal_replica._pb import operator_pb2
from cnpg_wal_replica.errors import (
    ApplyError,
    ClusterDecodeError,
    ConfigError,
    ConfigIssue,
    shown,
)
from cnpg_wal_replica.plugin.deferred import CoreNotReadyError

log = structlog.get_logger(__name__)

INTERNAL_MESSAGE = (
    "cnpg-wal-replica: internal error in the plugin server; see the plugin server's logs"
)
MAX_MESSAGE_BYTES = 4000
"""Keep status messages well under gRPC's header limit (and readable in a phase reason)."""


def validation_error(issue: ConfigIssue) -> operator_pb2.ValidationError:
    """A CNPG-I ValidationError for one issue; the path is never empty."""
    path = list(issue.path) or ["spec", "plugins"]
    return operator_pb2.ValidationError(
        path_components=path, value=shown(issue.value), message=issue.message
    )


def validation_errors(issues: Iterable[ConfigIssue]) -> list[operator_pb2.ValidationError]:
    return [validation_error(issue) for issue in issues]


def describe_config_error(error: ConfigError) -> str:
    """One message for all issues: ``parameter='value': what is wrong, example of a fix``."""
    return _clip(str(error))


def to_status(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message the operator should see for ``error``."""
    if isinstance(error, ConfigError):
        return grpc.StatusCode.INVALID_ARGUMENT, describe_config_error(error)
    if isinstance(error, ClusterDecodeError):
        return grpc.StatusCode.INVALID_ARGUMENT, _clip(f"cnpg-wal-replica: {error}")
    if isinstance(error, ApplyError | CoreNotReadyError):
        return grpc.StatusCode.UNAVAILABLE, _clip(f"cnpg-wal-replica: {error}")
    return grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], error: Exception, rpc: str
) -> NoReturn:
    """Log ``error`` and end the call with its mapped status (raises ``AbortError``)."""
    code, message = to_status(error)
    if code is grpc.StatusCode.INTERNAL:
        log.error("rpc.failed", rpc=rpc, error_type=type(error).__name__, exc_info=error)
    else:
        log.warning("rpc.refused", rpc=rpc, code=code.name, reason=message)
    await context.abort(code, message)


def _clip(message: str) -> str:
    encoded = message.encode()
    if len(encoded) <= MAX_MESSAGE_BYTES:
        return message
    return encoded[: MAX_MESSAGE_BYTES - 3].decode(errors="ignore") + "..."
