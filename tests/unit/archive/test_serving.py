"""Which file answers a restore request, and the bytes PostgreSQL gets for it."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import lz4.frame
import pytest

from cnpg_wal_replica.archive import serving
from cnpg_wal_replica.archive.serving import ArchiveReadError, Kind

MIB = 2**20
SEG = "000000010000000000000005"
NEXT = "000000010000000000000006"


def wal(size: int = MIB) -> bytes:
    """Content that compresses (a repeated random block) and differs from run to run."""
    return (os.urandom(64) * (size // 64 + 1))[:size]


def served_bytes(directory: Path, name: str, chunk: int = serving.CHUNK_SIZE) -> bytes:
    found = serving.find(directory, name, MIB)
    assert found is not None
    return b"".join(serving.read_chunks(found, chunk))


@pytest.mark.parametrize(
    ("suffix", "encode", "compression"),
    [
        ("", lambda b: b, None),
        (".gz", gzip.compress, "gzip"),
        (".lz4", lz4.frame.compress, "lz4"),
    ],
)
def test_a_complete_segment_is_served_decompressed(
    tmp_path: Path, suffix: str, encode: object, compression: str | None
) -> None:
    content = wal()
    (tmp_path / (SEG + suffix)).write_bytes(encode(content))  # type: ignore[operator]
    found = serving.find(tmp_path, SEG, MIB)
    assert found == serving.Served(Kind.SEGMENT, tmp_path / (SEG + suffix), compression, MIB)
    for chunk in (serving.CHUNK_SIZE, 4096, 1000):  # chunk boundaries never change the bytes
        assert served_bytes(tmp_path, SEG, chunk) == content


def test_every_chunk_is_at_most_the_chunk_size(tmp_path: Path) -> None:
    (tmp_path / (SEG + ".gz")).write_bytes(gzip.compress(wal()))
    found = serving.find(tmp_path, SEG, MIB)
    assert found is not None
    sizes = [len(c) for c in serving.read_chunks(found, 65536)]
    assert max(sizes) <= 65536
    assert sum(sizes) == MIB


def test_a_plain_partial_is_served_under_the_plain_name_padded(tmp_path: Path) -> None:
    written = wal(300_000)
    (tmp_path / (SEG + ".partial")).write_bytes(written)  # short: padded to a segment
    found = serving.find(tmp_path, SEG, MIB)
    assert found is not None
    assert (found.kind, found.source, found.size) == (Kind.PARTIAL, SEG + ".partial", MIB)
    assert served_bytes(tmp_path, SEG) == written + bytes(MIB - len(written))


@pytest.mark.parametrize("method", ["gzip", "lz4"])
def test_a_compressed_partial_cut_mid_stream_serves_what_decodes_then_zeros(
    tmp_path: Path, method: str
) -> None:
    content = os.urandom(MIB)
    if method == "gzip":  # what pg_receivewal's gzflush(Z_SYNC_FLUSH) leaves on disk
        encoder = zlib.compressobj(wbits=31)
        encoded = encoder.compress(content[:400_000]) + encoder.flush(zlib.Z_SYNC_FLUSH)
        encoded += encoder.compress(content[400_000:])[:1000]  # an unflushed tail, cut
        name = SEG + ".gz.partial"
    else:  # a frame cut in the middle of a block
        encoded = lz4.frame.compress(content, block_size=lz4.frame.BLOCKSIZE_MAX64KB)
        encoded = encoded[:400_000]
        name = SEG + ".lz4.partial"
    (tmp_path / name).write_bytes(encoded)
    got = served_bytes(tmp_path, SEG)
    assert len(got) == MIB
    decoded = next(i for i in range(MIB) if got[i] != content[i])  # as far as it decodes
    assert 300_000 < decoded < 402_000
    assert got[decoded:] == bytes(MIB - decoded)


def test_a_complete_segment_wins_over_a_partial_of_the_same_name(tmp_path: Path) -> None:
    content = wal()
    (tmp_path / SEG).write_bytes(content)
    (tmp_path / (SEG + ".partial")).write_bytes(bytes(MIB))
    assert served_bytes(tmp_path, SEG) == content


def test_only_the_newest_partial_is_served(tmp_path: Path) -> None:
    """An old timeline's last segment stays .partial forever; PostgreSQL's own archiving
    keeps such files out of recovery, and so does the server."""
    old_timeline = "000000010000000000000007"
    new_timeline = "000000020000000000000007"
    (tmp_path / (old_timeline + ".partial")).write_bytes(wal())
    (tmp_path / (new_timeline + ".partial")).write_bytes(wal())
    assert serving.find(tmp_path, old_timeline, MIB) is None
    found = serving.find(tmp_path, new_timeline, MIB)
    assert found is not None
    assert found.kind is Kind.PARTIAL
    newest = serving.newest_partial(tmp_path, MIB)
    assert newest is not None
    assert newest.name == new_timeline + ".partial"


def test_a_missing_file_is_none(tmp_path: Path) -> None:
    (tmp_path / (SEG + ".partial")).write_bytes(wal())
    assert serving.find(tmp_path, NEXT, MIB) is None
    assert serving.find(tmp_path, "00000002.history", MIB) is None


def test_a_history_file_is_served_as_it_is(tmp_path: Path) -> None:
    text = b"1\t0/5000000\tno recovery target specified\n"
    (tmp_path / "00000002.history").write_bytes(text)
    found = serving.find(tmp_path, "00000002.history", MIB)
    assert found is not None
    assert (found.kind, found.size) == (Kind.HISTORY, len(text))
    assert served_bytes(tmp_path, "00000002.history") == text


@pytest.mark.parametrize(
    "name",
    [
        "../000000010000000000000005",
        "000000010000000000000005.partial",
        "000000010000000000000005.gz",
        "00000001000000000000000G",
        "00000002.history.tmp",
        "",
        "000000010000000000001000",  # segment number past a 1 MiB xlogid
    ],
)
def test_anything_but_a_plain_segment_or_history_name_is_refused(tmp_path: Path, name: str) -> None:
    assert not serving.is_request_name(name, MIB)
    with pytest.raises(ValueError, match="neither a WAL segment name nor a history file name"):
        serving.find(tmp_path, name, MIB)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(bytes(MIB - 8192)), "holds 1040384 bytes of WAL, a segment has 1048576"),
        (gzip.compress(bytes(MIB + 1)), "holds more than the 1048576 bytes of a segment"),
        (b"\x1f\x8b\x08\x00garbage" * 10, "cannot decompress"),
    ],
)
def test_a_complete_segment_that_is_not_one_segment_long_is_an_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / (SEG + ".gz")).write_bytes(content)
    found = serving.find(tmp_path, SEG, MIB)
    assert found is not None
    with pytest.raises(ArchiveReadError, match=message):
        b"".join(serving.read_chunks(found))


def test_describe_names_the_newest_segment_partial_and_timeline(tmp_path: Path) -> None:
    assert serving.describe(tmp_path, MIB) == ("", "", 0)
    (tmp_path / SEG).write_bytes(wal())
    (tmp_path / (NEXT + ".partial")).write_bytes(wal())
    (tmp_path / "00000002.history").write_bytes(b"1\t0/6000000\tx\n")
    assert serving.describe(tmp_path, MIB) == (SEG, NEXT, 2)
