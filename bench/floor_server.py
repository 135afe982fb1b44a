"""The anchor for plugin latency: a do-nothing grpc.aio server with the same mutual TLS.

It answers Probe, Pre and Post at once, so the benchmark can show how much of the plugin's
latency is gRPC, TLS and Python itself on this machine, side by side in the same run.
Usage: python bench/floor_server.py PORT SERVER_CERT SERVER_KEY CLIENT_CERT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import grpc

from cnpg_wal_replica._pb import (
    identity_pb2,
    identity_pb2_grpc,
    reconciler_pb2,
    reconciler_pb2_grpc,
)

CONTINUE = reconciler_pb2.ReconcilerHooksResult(
    behavior=reconciler_pb2.ReconcilerHooksResult.BEHAVIOR_CONTINUE
)


class Hooks(reconciler_pb2_grpc.ReconcilerHooksServicer):
    """Pre and Post that do nothing."""

    async def Pre(self, request: Any, context: Any) -> Any:  # noqa: N802
        return CONTINUE

    async def Post(self, request: Any, context: Any) -> Any:  # noqa: N802
        return CONTINUE


class Identity(identity_pb2_grpc.IdentityServicer):
    """Probe only."""

    async def Probe(self, request: Any, context: Any) -> Any:  # noqa: N802
        return identity_pb2.ProbeResponse(ready=True)


async def main(port: int, credentials: grpc.ServerCredentials) -> None:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    reconciler_pb2_grpc.add_ReconcilerHooksServicer_to_server(Hooks(), server)
    identity_pb2_grpc.add_IdentityServicer_to_server(Identity(), server)
    server.add_secure_port(f"127.0.0.1:{port}", credentials)
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    port_text, cert_path, key_path, client_path = sys.argv[1:5]
    server_credentials = grpc.ssl_server_credentials(
        [(Path(key_path).read_bytes(), Path(cert_path).read_bytes())],
        root_certificates=Path(client_path).read_bytes(),
        require_client_auth=True,
    )
    asyncio.run(main(int(port_text), server_credentials))
