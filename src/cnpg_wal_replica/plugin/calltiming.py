"""Times every unary call the plugin server answers, for `ServerMetrics.observe_call`.

A gRPC server interceptor: the handler of each method the server has is wrapped once per
call, so the time measured is the plugin's own, from the decoded request to the response
(or the error), without the operator's side of the connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Observe = Callable[[str, str, float], None]
"""``(method, outcome, seconds)``: outcome ``ok`` or ``error`` (aborted or raised)."""


class CallTimer(grpc.aio.ServerInterceptor):
    """Reports each unary call's method, outcome and seconds to *observe*."""

    def __init__(self, observe: Observe) -> None:
        self._observe = observe

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods (UNIMPLEMENTED) and streams are not timed
        method: str = handler_call_details.method
        inner = handler.unary_unary
        observe = self._observe

        async def timed(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            outcome = "error"
            try:
                response = await inner(request, context)
                outcome = "ok"
                return response
            finally:
                observe(method, outcome, time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            timed,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
