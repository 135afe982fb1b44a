"""`CallTimer` on a real grpc.aio server: each unary call reported once, with its outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from cnpg_wal_replica._pb import identity_pb2, identity_pb2_grpc
from cnpg_wal_replica.plugin.calltiming import CallTimer
from cnpg_wal_replica.transport.identity import IdentityServicer

SLOW = "/test.Timed/Slow"
REFUSED = "/test.Timed/Refused"


async def slow(request: bytes, context: Any) -> bytes:
    await asyncio.sleep(0.05)
    return request


async def refused(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no")
    raise AssertionError("abort returned")


async def test_each_unary_call_is_reported_with_its_method_outcome_and_time() -> None:
    calls: list[tuple[str, str, float]] = []
    server = grpc.aio.server(interceptors=(CallTimer(lambda *call: calls.append(call)),))
    identity_pb2_grpc.add_IdentityServicer_to_server(IdentityServicer(()), server)
    handlers = {
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Refused": grpc.unary_unary_rpc_method_handler(refused),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Timed", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = identity_pb2_grpc.IdentityStub(channel)
            await stub.GetPluginMetadata(identity_pb2.GetPluginMetadataRequest())
            assert await channel.unary_unary(SLOW)(b"x") == b"x"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await channel.unary_unary(REFUSED)(b"x")
            assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await channel.unary_unary("/test.Timed/Missing")(b"x")
            assert unknown.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(None)
    assert [(method, outcome) for method, outcome, _ in calls] == [
        ("/cnpgi.identity.v1.Identity/GetPluginMetadata", "ok"),
        (SLOW, "ok"),
        (REFUSED, "error"),
    ]
    assert calls[1][2] >= 0.05
    assert all(seconds >= 0 for _, _, seconds in calls)
