"""The receiver's WAL server and the sidecar's client over real mutual TLS 1.3.

Real parts: the WAL server as the receiver starts it (`start_wal_server` with receiver
settings), the sidecar's `ArchiveClient` and `Restorer`, certificates shaped like those
cert-manager issues. The archive directory is written by the test (real PostgreSQL WAL is
served in tests/postgres/test_restore_through_sidecar.py).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from support.walpki import SERVER_NAME, WalPki

from cnpg_wal_replica._pb import wal_archive_pb2 as pb
from cnpg_wal_replica.archive.state import ArchiveState, save_state
from cnpg_wal_replica.localpg import free_port
from cnpg_wal_replica.receiver.metrics import SERVED_LABELS, ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.walserver import WALServerStartError, start_wal_server
from cnpg_wal_replica.sidecar.client import ArchiveClient, FetchError
from cnpg_wal_replica.sidecar.restorer import NotInArchiveError, Restorer

MIB = 2**20
FILES = "cnpg_wal_replica_receiver_served_files_total"
SEG = "000000010000000000000005"
PARTIAL = "000000010000000000000006"


def digest(data: bytes) -> str:
    """Compare megabytes by digest: pytest's diff of two large byte strings takes minutes."""
    return f"{len(data)}:{hashlib.sha256(data).hexdigest()[:16]}"


def content(tag: int) -> bytes:
    """A segment's worth of bytes, the same for the same tag."""
    return bytes([tag]) * 8192 + random.Random(tag).randbytes(64) * ((MIB - 8192) // 64)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    directory = tmp_path / "wal"
    directory.mkdir()
    save_state(directory, ArchiveState("7000000000000000001", 1, MIB))
    (directory / (SEG + ".gz")).write_bytes(gzip.compress(content(5)))
    (directory / (PARTIAL + ".partial")).write_bytes(content(6)[:100_000])
    (directory / "00000001.history").write_bytes(b"")
    return directory


@pytest.fixture
def pki(tmp_path: Path) -> WalPki:
    return WalPki(tmp_path / "pki")


ServerFactory = Callable[..., Awaitable[tuple[grpc.aio.Server, ReceiverMetrics, int]]]


@pytest.fixture
async def wal_server(archive: Path, pki: WalPki) -> AsyncIterator[ServerFactory]:
    servers: list[grpc.aio.Server] = []

    async def start(
        readers: str = "", port: int = 0
    ) -> tuple[grpc.aio.Server, ReceiverMetrics, int]:
        settings = ReceiverSettings(
            host="pg-rw",
            application_name="pg-wal-receiver",
            wal_directory=archive,
            pg_receivewal=Path("/bin/true"),
            namespace="prod",
            serve_tls_directory=pki.server,
            serve_address=f"127.0.0.1:{port}",  # type: ignore[arg-type]
            readers=readers,  # type: ignore[arg-type]
        )
        metrics = ReceiverMetrics()
        server, bound = await start_wal_server(settings, metrics)
        servers.append(server)
        return server, metrics, bound

    yield start
    for server in servers:
        await server.stop(None)


def client(port: int, reader: Path) -> ArchiveClient:
    return ArchiveClient(f"127.0.0.1:{port}", SERVER_NAME, reader)


async def test_a_reader_of_the_origin_namespace_fetches_segments_partials_and_history(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, metrics, port = await wal_server()
    for kind, outcome in SERVED_LABELS:  # every series exists before the first fetch
        labels = {"kind": kind, "outcome": outcome}
        assert metrics.registry.get_sample_value(FILES, labels) == 0
    reader = client(port, pki.reader("prod", "pg-restored"))
    try:
        segment = await reader.fetch(SEG, tmp_path / "seg")
        assert segment is not None
        assert (segment.kind, segment.size, segment.source, segment.partial) == (
            pb.FileInfo.KIND_SEGMENT,
            MIB,
            SEG + ".gz",
            False,
        )
        assert digest((tmp_path / "seg").read_bytes()) == digest(content(5))
        partial = await reader.fetch(PARTIAL, tmp_path / "partial")
        assert partial is not None
        assert partial.partial
        assert digest((tmp_path / "partial").read_bytes()) == digest(
            content(6)[:100_000] + bytes(MIB - 100_000)
        )
        history = await reader.fetch("00000001.history", tmp_path / "history")
        assert history is not None
        assert history.kind == pb.FileInfo.KIND_HISTORY
        assert await reader.fetch("000000010000000000000007", tmp_path / "missing") is None
        assert not (tmp_path / "missing").exists()
        described = await reader.describe()
        assert (described.segment_size, described.newest_segment) == (MIB, SEG)
        assert (described.newest_partial, described.timeline) == (PARTIAL, 1)
    finally:
        await reader.close()
    sample = metrics.registry.get_sample_value
    assert sample("cnpg_wal_replica_receiver_served_bytes_total") == 2 * MIB  # history: 0
    assert sample(FILES, {"kind": "segment", "outcome": "ok"}) == 1
    assert sample(FILES, {"kind": "partial", "outcome": "ok"}) == 1
    assert sample(FILES, {"kind": "none", "outcome": "not_found"}) == 1


async def test_a_name_that_is_not_wal_is_refused_without_touching_files(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, _, port = await wal_server()
    reader = client(port, pki.reader("prod", "pg"))
    try:
        for name in ("../state.json", SEG + ".gz", "recovery.signal"):
            with pytest.raises(FetchError) as caught:
                await reader.fetch(name, tmp_path / "x")
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert not caught.value.transient
            assert "is not a WAL segment or history file name" in str(caught.value)
    finally:
        await reader.close()


async def test_another_namespace_reads_only_when_the_origin_lists_it(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, _, closed_port = await wal_server()
    _, _, open_port = await wal_server(readers="dr/pg-copy, audit/*")
    bundle = pki.reader("dr", "pg-copy")
    refused = client(closed_port, bundle)
    admitted = client(open_port, bundle)
    other = client(open_port, pki.reader("dr", "someone-else"))
    try:
        with pytest.raises(FetchError) as caught:
            await refused.fetch(SEG, tmp_path / "a")
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert str(caught.value) == (
            "PERMISSION_DENIED: dr/pg-copy may not read this WAL: the origin Cluster admits "
            "its own namespace prod and the plugin parameter readers (now empty), "
            "e.g. readers: dr/pg-copy"
        )
        with pytest.raises(FetchError, match="PERMISSION_DENIED"):
            await refused.describe()
        assert await admitted.fetch(SEG, tmp_path / "b") is not None
        with pytest.raises(FetchError, match=r"now dr/pg-copy,audit/\*"):
            await other.fetch(SEG, tmp_path / "c")
        assert not (tmp_path / "a").exists()
        assert not (tmp_path / "c").exists()
    finally:
        for each in (refused, admitted, other):
            await each.close()


async def test_a_certificate_without_a_reader_name_is_refused(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, _, port = await wal_server(readers="someone/*")
    reader = client(port, pki.unnamed_reader())
    try:
        with pytest.raises(FetchError) as caught:
            await reader.fetch(SEG, tmp_path / "x")
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert "names no reader" in str(caught.value)
    finally:
        await reader.close()


async def test_a_certificate_of_another_ca_gets_no_connection(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, metrics, port = await wal_server()
    reader = client(port, pki.stranger("prod", "pg"))
    try:
        with pytest.raises(FetchError) as caught:
            await reader.fetch(SEG, tmp_path / "x")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        await reader.close()
    assert metrics.registry.get_sample_value("cnpg_wal_replica_receiver_served_bytes_total") == 0


async def test_the_server_refuses_tls_files_it_cannot_use(
    wal_server: ServerFactory, pki: WalPki
) -> None:
    (pki.server / "ca.crt").unlink()
    with pytest.raises(WALServerStartError) as caught:
        await wal_server()
    assert str(caught.value).startswith(
        "WAL_RECEIVER_SERVE_TLS_DIRECTORY / --serve-tls-directory (ca.crt): file "
    )
    assert "does not exist" in str(caught.value)


async def test_the_restorer_prefetches_the_next_segments_and_serves_them_from_the_spool(
    wal_server: ServerFactory, pki: WalPki, archive: Path, tmp_path: Path
) -> None:
    (archive / (PARTIAL + ".partial")).unlink()
    following = [f"0000000100000000000000{n:02X}" for n in range(6, 10)]
    for index, name in enumerate(following):
        (archive / name).write_bytes(content(10 + index))
    _, _, port = await wal_server()
    reader = client(port, pki.reader("prod", "pg"))
    spool = tmp_path / "spool"
    restorer = Restorer(reader, spool, prefetch=3, retry_seconds=5)
    try:
        assert await restorer.restore(SEG, tmp_path / "RECOVERYXLOG") is not None
        await _until(lambda: sorted(p.name for p in spool.iterdir()) == following[:3])
        assert await restorer.restore(following[0], tmp_path / "RECOVERYXLOG") is None  # spool
        assert digest((tmp_path / "RECOVERYXLOG").read_bytes()) == digest(content(10))
        await _until(lambda: sorted(p.name for p in spool.iterdir()) == following[1:])
        for name in following[1:]:
            await restorer.restore(name, tmp_path / "RECOVERYXLOG")
        with pytest.raises(NotInArchiveError):
            await restorer.restore("00000001000000000000000A", tmp_path / "RECOVERYXLOG")
        await restorer.close()  # cancels the prefetches still in flight (0B, 0C)
        assert not [p for p in spool.iterdir() if p.name.startswith(".")], "no temporary left"
    finally:
        await restorer.close()
        await reader.close()


async def test_the_restorer_never_spools_a_partial_segment(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    _, _, port = await wal_server()
    reader = client(port, pki.reader("prod", "pg"))
    spool = tmp_path / "spool"
    restorer = Restorer(reader, spool, prefetch=4, retry_seconds=5)
    try:
        await restorer.restore(SEG, tmp_path / "RECOVERYXLOG")
        await _until(lambda: not restorer._in_flight)
        assert list(spool.iterdir()) == []  # PARTIAL is still growing on the receiver
    finally:
        await restorer.close()
        await reader.close()


async def test_the_restorer_waits_out_a_receiver_that_is_restarting(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    """A transient failure must not look like the end of WAL: it is retried until the
    receiver answers."""
    port = free_port()
    reader = client(port, pki.reader("prod", "pg"))
    restorer = Restorer(reader, tmp_path / "spool", prefetch=0, retry_seconds=30)
    try:
        started = time.monotonic()
        restore = asyncio.create_task(restorer.restore(SEG, tmp_path / "RECOVERYXLOG"))
        await asyncio.sleep(1.5)
        assert not restore.done()
        await wal_server(port=port)
        assert await asyncio.wait_for(restore, 20) is not None
        assert 1.5 < time.monotonic() - started < 20
        assert digest((tmp_path / "RECOVERYXLOG").read_bytes()) == digest(content(5))
    finally:
        await restorer.close()
        await reader.close()


async def test_the_restorer_gives_up_after_its_retry_time(pki: WalPki, tmp_path: Path) -> None:
    reader = client(free_port(), pki.reader("prod", "pg"))
    restorer = Restorer(reader, tmp_path / "spool", prefetch=0, retry_seconds=1)
    try:
        started = time.monotonic()
        with pytest.raises(FetchError) as caught:
            await restorer.restore(SEG, tmp_path / "RECOVERYXLOG")
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert 1 <= time.monotonic() - started < 10
        assert not (tmp_path / "RECOVERYXLOG").exists()
    finally:
        await restorer.close()
        await reader.close()


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not predicate():  # noqa: ASYNC110 - a file-system or task condition
            await asyncio.sleep(0.02)


async def test_the_client_presents_rotated_certificates_at_its_next_call(
    wal_server: ServerFactory, pki: WalPki, tmp_path: Path
) -> None:
    """cert-manager rewrites the mounted files in place; the next fetch uses them."""
    _, _, port = await wal_server()
    bundle = pki.reader("prod", "pg")
    reader = client(port, bundle)
    try:
        assert await reader.fetch(SEG, tmp_path / "a") is not None
        rotated = pki.reader("staging", "pg-renamed")
        for name in ("tls.crt", "tls.key"):
            (bundle / name).write_bytes((rotated / name).read_bytes())
        with pytest.raises(FetchError, match="staging/pg-renamed may not read this WAL"):
            await reader.fetch(SEG, tmp_path / "b")
    finally:
        await reader.close()
