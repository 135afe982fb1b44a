"""The sidecar's side of the WAL archive protocol: fetch files from an origin's receiver.

One gRPC channel over TLS 1.3, the server verified against ``ca.crt`` and the name the
receiver's certificate carries, the sidecar presenting its own client certificate (whose
URI SAN names the reading Cluster). cert-manager rotates the files in place: the channel is
rebuilt with the new files before the next call once their mtime or size changed.

A fetched file is written beside its destination under a hidden name (mode 0600), checked
to have the size the server announced and renamed: PostgreSQL never sees half a segment. It
is not fsynced, as ``cp`` in a ``restore_command`` is not: after a crash the recovery
restores again, and the spool is emptied at start.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import grpc

from cnpg_wal_replica._pb import wal_archive_pb2 as pb
from cnpg_wal_replica._pb import wal_archive_pb2_grpc as pb_grpc
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.reading import SERVER_TLS_FILES
from cnpg_wal_replica.transport.chunks import FETCH_PATH, decode_chunk
from cnpg_wal_replica.transport.files import Stamp, file_stamp

TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    }
)
"""Codes worth retrying: the receiver restarting, the network, a stream cut short."""

CALL_TIMEOUT = 120.0
"""Seconds one fetch may take (a 16 MiB segment takes well under one on a pod network)."""


if TYPE_CHECKING:
    _Fetch: TypeAlias = grpc.aio.UnaryStreamMultiCallable[
        pb.FetchRequest, tuple[pb.FileInfo | None, memoryview]
    ]


class FetchError(WalReplicaError):
    """A fetch failed for a reason other than the file being absent."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code

    @property
    def transient(self) -> bool:
        """Whether trying again may succeed."""
        return self.code in TRANSIENT


@dataclass(frozen=True)
class Fetched:
    """What one fetch wrote."""

    kind: pb.FileInfo.Kind.ValueType
    size: int
    source: str

    @property
    def partial(self) -> bool:
        """The segment is still being written on the receiver: never keep it for later."""
        return self.kind == pb.FileInfo.KIND_PARTIAL_SEGMENT


class ArchiveClient:
    """Fetches from one receiver's WAL server."""

    def __init__(self, target: str, server_name: str, tls_directory: Path) -> None:
        self._target = target
        self._server_name = server_name
        self._files = tuple(tls_directory / name for name in SERVER_TLS_FILES)
        self._stamp: Stamp | None = None
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.WALArchiveAsyncStub | None = None
        self._fetch: _Fetch | None = None
        self._lock = asyncio.Lock()

    async def _current_stub(self) -> tuple[pb_grpc.WALArchiveAsyncStub, _Fetch]:
        """The stub, and Fetch with `decode_chunk`, on a channel with the current files."""
        async with self._lock:
            stamp = file_stamp(self._files)
            if self._stub is None or stamp != self._stamp:
                old = self._channel
                cert, key, ca = (path.read_bytes() for path in self._files)
                credentials = grpc.ssl_channel_credentials(ca, key, cert)
                options = [("grpc.ssl_target_name_override", self._server_name)]
                self._channel = grpc.aio.secure_channel(self._target, credentials, options)
                self._stub = pb_grpc.WALArchiveStub(self._channel)
                self._fetch = self._channel.unary_stream(
                    FETCH_PATH,
                    request_serializer=pb.FetchRequest.SerializeToString,
                    response_deserializer=decode_chunk,
                )
                self._stamp = stamp
                if old is not None:
                    await old.close(grace=CALL_TIMEOUT)
            assert self._fetch is not None
            return self._stub, self._fetch

    async def describe(self) -> pb.DescribeResult:
        """What the archive holds now; `FetchError` when the call fails."""
        stub, _ = await self._current_stub()
        try:
            result: pb.DescribeResult = await stub.Describe(
                pb.DescribeRequest(), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            raise FetchError(exc.code(), exc.details() or "") from None
        return result

    async def fetch(self, name: str, destination: Path) -> Fetched | None:
        """Write *name* to *destination* (atomically); None when the archive lacks it.

        Raises `FetchError` for any other failure, leaving *destination* untouched.
        """
        _, fetch = await self._current_stub()
        temporary = destination.with_name(f".{destination.name}.fetching")
        try:
            return await self._write(fetch, name, temporary, destination)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise FetchError(exc.code(), exc.details() or "") from None
        finally:
            temporary.unlink(missing_ok=True)

    async def _write(self, fetch: _Fetch, name: str, temporary: Path, destination: Path) -> Fetched:
        """Stream into *temporary*, then rename. Chunks are written from the event loop: a
        megabyte into the page cache takes well under a millisecond, less than handing each
        one to a thread and back."""
        stream = fetch(pb.FetchRequest(name=name), timeout=CALL_TIMEOUT)
        info: pb.FileInfo | None = None
        written = 0
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            async for chunk_info, data in stream:
                if info is None:
                    info = chunk_info if chunk_info is not None else pb.FileInfo()
                written += _write_all(fd, data)
            if info is None or written != info.size:
                want = "no file information" if info is None else f"{info.size} bytes"
                raise FetchError(grpc.StatusCode.DATA_LOSS, f"{name}: got {written}, {want}")
            _owned_like_directory(fd, destination.parent)
        finally:
            os.close(fd)
        os.replace(temporary, destination)
        return Fetched(info.kind, info.size, info.source)

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        if self._channel is not None:
            await self._channel.close()


def _owned_like_directory(fd: int, directory: Path) -> None:
    """Run as root (never so in a pod), give the file to the owner of its directory: the
    PostgreSQL server that reads and renames it runs as that user."""
    if os.geteuid() == 0:
        owner = os.stat(directory)
        os.fchown(fd, owner.st_uid, owner.st_gid)


def _write_all(fd: int, data: memoryview) -> int:
    view = data
    while view:
        view = view[os.write(fd, view) :]
    return len(data)
