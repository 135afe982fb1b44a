"""A plugin whose wire format drifts from CNPG-I makes the Go client fail.

A tiny server answers the Identity calls with bytes built from our generated messages, then
altered the way a wrong .proto would alter them: a field number cnpg-i does not have, and an
enum value cnpg-i does not know. The real Go client, over real mTLS, must report both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
import pytest_asyncio
from support import pluginserver

from cnpg_wal_replica._pb import identity_pb2

pytestmark = pytest.mark.slow

EXTRA_FIELD_12 = b"\x62\x05extra"  # tag (12 << 3 | 2), length 5: a field cnpg-i lacks
UNKNOWN_SERVICE_TYPE = 42


def metadata_with_extra_field() -> bytes:
    return (
        identity_pb2.GetPluginMetadataResponse(
            name="cnpg-i-wal-replica.documentdb.io",
            version="0.1.0",
            display_name="WAL Replica Pod Manager",
            description="test",
            license="MIT",
            license_url="https://github.com/documentdb/cnpg-wal-replica/blob/main/LICENSE",
        ).SerializeToString()
        + EXTRA_FIELD_12
    )


def capabilities_with_unknown_type() -> bytes:
    capability = identity_pb2.PluginCapability(
        service=identity_pb2.PluginCapability.Service(type=UNKNOWN_SERVICE_TYPE)  # type: ignore[arg-type]
    )
    return identity_pb2.GetPluginCapabilitiesResponse(capabilities=[capability]).SerializeToString()


def raw_unary(answer: bytes) -> grpc.RpcMethodHandler[bytes, bytes]:
    async def handler(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return answer

    identity: Callable[[bytes], bytes] = lambda raw: raw  # noqa: E731
    return grpc.unary_unary_rpc_method_handler(
        handler, request_deserializer=identity, response_serializer=identity
    )


@pytest_asyncio.fixture(loop_scope="session")
async def drifted_server(plugin_tls: pluginserver.PluginTLS) -> AsyncIterator[str]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "cnpgi.identity.v1.Identity",
                {
                    "GetPluginMetadata": raw_unary(metadata_with_extra_field()),
                    "GetPluginCapabilities": raw_unary(capabilities_with_unknown_type()),
                },
            )
        ]
    )
    credentials = grpc.ssl_server_credentials(
        [(plugin_tls.server.key.read_bytes(), plugin_tls.server.cert.read_bytes())],
        root_certificates=plugin_tls.client.cert.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


async def test_unknown_field_and_enum_value_fail_the_client(
    drifted_server: str, plugin_tls: pluginserver.PluginTLS, go_client_binary: object
) -> None:
    result = await asyncio.to_thread(
        pluginserver.run_go_client, drifted_server, plugin_tls, None, "--checks="
    )

    assert result.returncode == 1
    failures = result.summary["failures"]
    assert any("GetPluginMetadata: answer has fields unknown to cnpg-i" in f for f in failures)
    assert f"plugin service {UNKNOWN_SERVICE_TYPE} is not a value the cnpg-i stubs know" in failures
    assert result.summary["metadata"]["name"] == "cnpg-i-wal-replica.documentdb.io"
