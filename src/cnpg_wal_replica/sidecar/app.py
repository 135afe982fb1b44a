"""Run the sidecar: CNPG-I Identity and WAL/Restore on a unix socket, until stopped."""

from __future__ import annotations

import asyncio

import grpc
import structlog

from cnpg_wal_replica._pb import identity_pb2_grpc, wal_pb2_grpc
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.reading import SERVER_TLS_FILES, SOCKET_NAME
from cnpg_wal_replica.sidecar.client import ArchiveClient
from cnpg_wal_replica.sidecar.restorer import Restorer
from cnpg_wal_replica.sidecar.services import ADVERTISED_SERVICES, WALServicer
from cnpg_wal_replica.sidecar.settings import SidecarSettings, env_name
from cnpg_wal_replica.stopsignals import stop_on_signals
from cnpg_wal_replica.transport.identity import IdentityServicer

log = structlog.get_logger("sidecar")

GRACE_SECONDS = 5.0
"""Seconds a restore in flight gets to finish when the pod stops."""


class StartupError(WalReplicaError):
    """The sidecar cannot start; the message names the setting to change."""


def check_tls_files(settings: SidecarSettings) -> None:
    """The client certificate, its key and the CA must be readable before anything starts."""
    for name in SERVER_TLS_FILES:
        path = settings.tls_directory / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StartupError(
                f"{env_name('tls_directory')} / --tls-directory: cannot read {path}: "
                f"{exc.strerror}; mount the reader's certificate Secret there "
                "(keys tls.crt, tls.key, ca.crt)"
            ) from None
        if b"-----BEGIN " not in data:
            raise StartupError(
                f"{env_name('tls_directory')} / --tls-directory: {path} is not a PEM file"
            )


async def run_sidecar(
    settings: SidecarSettings, stop: asyncio.Event | None = None, *, handle_signals: bool = True
) -> int:
    """Serve until SIGTERM/SIGINT (or *stop*); `StartupError` when it cannot start."""
    check_tls_files(settings)
    stop = stop or asyncio.Event()
    socket_path = settings.socket_directory / SOCKET_NAME
    try:
        socket_path.unlink(missing_ok=True)  # a previous container's socket
        restorer_spool = settings.spool_directory
        restorer_spool.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"cannot prepare {exc.filename}: {exc.strerror} ({env_name('socket_directory')}, "
            f"{env_name('spool_directory')}: writable directories of the pod)"
        ) from None
    client = ArchiveClient(settings.server, settings.tls_server_name, settings.tls_directory)
    restorer = Restorer(
        client,
        restorer_spool,
        prefetch=settings.prefetch,
        retry_seconds=settings.retry_seconds,
    )
    server = grpc.aio.server()
    identity_pb2_grpc.add_IdentityServicer_to_server(IdentityServicer(ADVERTISED_SERVICES), server)
    wal_pb2_grpc.add_WALServicer_to_server(WALServicer(restorer), server)
    if server.add_insecure_port(f"unix:{socket_path}") == 0:
        raise StartupError(f"cannot listen on {socket_path} ({env_name('socket_directory')})")
    await server.start()
    remove_handlers = stop_on_signals(stop) if handle_signals else None
    log.info(
        "sidecar_listening",
        socket=str(socket_path),
        server=settings.server,
        server_name=settings.tls_server_name,
        prefetch=settings.prefetch,
        spool=str(restorer_spool),
    )
    try:
        await stop.wait()
    finally:
        await server.stop(GRACE_SECONDS)
        await restorer.close()
        await client.close()
        socket_path.unlink(missing_ok=True)
        if remove_handlers is not None:
            remove_handlers()
    log.info("sidecar_stopped")
    return 0
