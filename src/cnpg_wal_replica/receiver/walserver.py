"""The receiver's WAL server: serves the archive to the sidecars of reading Clusters.

gRPC (``cnpgwalreplica.archive.v1.WALArchive``, ``proto/wal_archive.proto``) over TLS 1.3
with client certificates verified against the CA in the server's Secret (``ca.crt``). A
reader is the URI SAN of its certificate, ``cnpg-wal-replica://reader/<ns>/<cluster>``
(`reading.parse_reader_uri`); it is admitted when it is of the origin's own namespace or a
``WAL_RECEIVER_READERS`` pattern names it. Everyone else gets ``PERMISSION_DENIED`` and
nothing of the archive, not even whether a file exists.

Files are read and decompressed in a worker thread, a chunk at a time, so the supervisor
sharing this event loop never waits on them; `MAX_CONCURRENT_FETCHES` bounds the memory
and CPU that readers can take from the receiver.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import structlog

from cnpg_wal_replica._pb import wal_archive_pb2 as pb
from cnpg_wal_replica.archive import serving
from cnpg_wal_replica.archive.serving import ArchiveReadError, Kind
from cnpg_wal_replica.archive.state import load_state
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.reading import (
    SERVER_TLS_FILES,
    ReaderPattern,
    parse_reader_uri,
    reader_allowed,
)
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings, env_name, option_name
from cnpg_wal_replica.transport.chunks import FETCH_PATH, encode_chunk
from cnpg_wal_replica.transport.tls import (
    ReloadingCertificates,
    TLSFiles,
    TLSFilesError,
    server_credentials,
)

log = structlog.get_logger("receiver.walserver")

MAX_CONCURRENT_FETCHES = 8
"""Fetches served at once; more wait. A sidecar prefetches a few segments in parallel."""

_KINDS = {
    Kind.SEGMENT: pb.FileInfo.KIND_SEGMENT,
    Kind.PARTIAL: pb.FileInfo.KIND_PARTIAL_SEGMENT,
    Kind.HISTORY: pb.FileInfo.KIND_HISTORY,
}


class Admission:
    """Who may read: the origin's namespace, and the patterns it lists."""

    def __init__(self, namespace: str, readers: tuple[ReaderPattern, ...]) -> None:
        self.namespace = namespace
        self.readers = readers

    async def admit(self, context: grpc.aio.ServicerContext[Any, Any]) -> str:
        """The reader's ``namespace/cluster``, or abort with ``PERMISSION_DENIED``."""
        uris = list(context.auth_context().get("peer_uri", []))
        parsed = [parse_reader_uri(uri.decode(errors="replace")) for uri in uris]
        readers = [p for p in parsed if p is not None]
        if len(readers) != 1:
            log.warning("wal_server.reader_unnamed", peer=context.peer(), uri_sans=len(uris))
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "the client certificate names no reader: it needs exactly one URI SAN "
                "cnpg-wal-replica://reader/<namespace>/<cluster>, as the plugin issues",
            )
        namespace, cluster = readers[0]
        if not reader_allowed(namespace, cluster, self.namespace, self.readers):
            log.warning("wal_server.reader_refused", reader=f"{namespace}/{cluster}")
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{namespace}/{cluster} may not read this WAL: the origin Cluster admits its "
                f"own namespace {self.namespace} and the plugin parameter readers "
                f"(now {','.join(map(str, self.readers)) or 'empty'}), e.g. "
                f"readers: {namespace}/{cluster}",
            )
        return f"{namespace}/{cluster}"


class WALArchiveServicer:
    """Describe and Fetch over one receiver's WAL directory (registered by `add_to_server`:
    Fetch yields `encode_chunk` buffers, not messages)."""

    def __init__(self, directory: Path, admission: Admission, metrics: ReceiverMetrics) -> None:
        self._directory = directory
        self._admission = admission
        self._metrics = metrics
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

    def _segment_size(self) -> int | None:
        return load_state(self._directory).segment_size

    async def Describe(  # noqa: N802 - gRPC method name
        self,
        request: pb.DescribeRequest,
        context: grpc.aio.ServicerContext[pb.DescribeRequest, pb.DescribeResult],
    ) -> pb.DescribeResult:
        await self._admission.admit(context)
        segment_size = self._segment_size()
        if segment_size is None:
            return pb.DescribeResult()
        newest, partial, timeline = await asyncio.to_thread(
            serving.describe, self._directory, segment_size
        )
        return pb.DescribeResult(
            segment_size=segment_size,
            newest_segment=newest,
            newest_partial=partial,
            timeline=timeline,
        )

    async def Fetch(  # noqa: N802 - gRPC method name
        self,
        request: pb.FetchRequest,
        context: grpc.aio.ServicerContext[pb.FetchRequest, bytes],
    ) -> AsyncIterator[bytes]:
        reader = await self._admission.admit(context)
        segment_size = self._segment_size()
        name = request.name
        if segment_size is None or not serving.is_request_name(name, segment_size):
            code = grpc.StatusCode.INVALID_ARGUMENT if segment_size else grpc.StatusCode.NOT_FOUND
            self._metrics.served_files.labels("none", code.name.lower()).inc()
            await context.abort(
                code,
                f"{name!r} is not a WAL segment or history file name, "
                "e.g. 000000010000000000000003 or 00000002.history"
                if segment_size
                else "the archive holds no WAL yet",
            )
        async with self._slots:
            served = await asyncio.to_thread(serving.find, self._directory, name, segment_size)
            if served is None:
                self._metrics.served_files.labels("none", "not_found").inc()
                await context.abort(grpc.StatusCode.NOT_FOUND, f"{name} is not in the archive")
            chunks = serving.read_chunks(served)
            info = pb.FileInfo(kind=_KINDS[served.kind], size=served.size, source=served.source)
            try:
                data = await asyncio.to_thread(_next_chunk, chunks)
                yield encode_chunk(data or b"", info)  # info even for an empty file
                while data is not None:
                    self._metrics.served_bytes.inc(len(data))
                    data = await asyncio.to_thread(_next_chunk, chunks)
                    if data is not None:
                        yield encode_chunk(data)
            except (ArchiveReadError, OSError) as exc:
                self._metrics.served_files.labels(served.kind.value, "error").inc()
                log.error("wal_server.read_failed", name=name, reader=reader, error=str(exc))
                await context.abort(grpc.StatusCode.DATA_LOSS, f"cannot serve {name}: {exc}")
            self._metrics.served_files.labels(served.kind.value, "ok").inc()
            log.debug("wal_server.served", name=name, source=served.source, reader=reader)


def add_to_server(servicer: WALArchiveServicer, server: grpc.aio.Server) -> None:
    """Register *servicer* as ``WALArchive``, Fetch sending its buffers as they are."""
    service, fetch = FETCH_PATH.strip("/").split("/")
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Describe": grpc.unary_unary_rpc_method_handler(
            servicer.Describe,
            request_deserializer=pb.DescribeRequest.FromString,
            response_serializer=pb.DescribeResult.SerializeToString,
        ),
        fetch: grpc.unary_stream_rpc_method_handler(
            servicer.Fetch, request_deserializer=pb.FetchRequest.FromString
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


def tls_files(directory: Path) -> TLSFiles:
    """The server's Secret, mounted as a directory, with the setting that names it."""
    cert, key, ca = SERVER_TLS_FILES
    setting = f"{env_name('serve_tls_directory')} / {option_name('serve_tls_directory')}"
    return TLSFiles(
        directory / cert,
        directory / key,
        directory / ca,
        settings=(f"{setting} ({cert})", f"{setting} ({key})", f"{setting} ({ca})"),
    )


class WALServerStartError(WalReplicaError):
    """The WAL server cannot start; the message names the setting to change."""


async def start_wal_server(
    settings: ReceiverSettings, metrics: ReceiverMetrics
) -> tuple[grpc.aio.Server, int]:
    """Read the certificates, bind and start; returns the server and the bound port."""
    directory, namespace = settings.serve_tls_directory, settings.namespace
    if directory is None or namespace is None:  # the settings model requires both together
        raise WALServerStartError(f"{env_name('serve_tls_directory')} is not set")
    try:
        certificates = ReloadingCertificates(tls_files(directory))
    except TLSFilesError as exc:
        raise WALServerStartError(str(exc)) from None
    admission = Admission(namespace, settings.readers)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    servicer = WALArchiveServicer(settings.wal_directory, admission, metrics)
    add_to_server(servicer, server)
    host, port = settings.serve_address
    try:
        bound = server.add_secure_port(f"{host}:{port}", server_credentials(certificates))
    except RuntimeError:
        raise WALServerStartError(
            f"cannot listen on {host}:{port} for the WAL server ({env_name('serve_address')} "
            f"/ {option_name('serve_address')}; choose a free port, e.g. 0.0.0.0:9443)"
        ) from None
    await server.start()
    log.info(
        "wal_server_listening",
        address=f"{host}:{bound}",
        namespace=admission.namespace,
        readers=[str(r) for r in admission.readers],
        certificate_sha256=certificates.bundle.server_cert_sha256,
    )
    return server, bound
