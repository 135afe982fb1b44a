"""`transport.chunks` against the generated protobuf code, both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnpg_wal_replica._pb import wal_archive_pb2 as pb
from cnpg_wal_replica.transport.chunks import FETCH_PATH, decode_chunk, encode_chunk

infos = st.none() | st.builds(
    pb.FileInfo,
    kind=st.sampled_from(list(pb.FileInfo.Kind.values())),
    size=st.integers(0, 2**64 - 1),
    source=st.text(max_size=60),
)


def test_fetch_path_is_the_generated_stubs_path() -> None:
    assert FETCH_PATH == "/cnpgwalreplica.archive.v1.WALArchive/Fetch"


@given(data=st.binary(max_size=5000), info=infos)
def test_encoded_chunks_parse_as_the_generated_message(
    data: bytes, info: pb.FileInfo | None
) -> None:
    parsed = pb.FetchChunk.FromString(encode_chunk(data, info))
    assert parsed.data == data
    assert parsed.HasField("info") == (info is not None)
    if info is not None:
        assert parsed.info == info


@given(data=st.binary(max_size=5000), info=infos)
def test_generated_messages_decode(data: bytes, info: pb.FileInfo | None) -> None:
    message = pb.FetchChunk(data=data) if info is None else pb.FetchChunk(data=data, info=info)
    decoded_info, decoded_data = decode_chunk(message.SerializeToString())
    assert bytes(decoded_data) == data
    assert decoded_info == info  # an empty FileInfo set is still sent, and decoded


def test_data_is_a_view_not_a_copy() -> None:
    raw = encode_chunk(b"x" * 1000)
    _, data = decode_chunk(raw)
    assert isinstance(data, memoryview)
    assert data.obj is raw


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    known = encode_chunk(b"wal", pb.FileInfo(size=3, source="s"))
    unknown = (
        bytes([3 << 3 | 0])
        + b"\x96\x01"  # varint
        + bytes([4 << 3 | 1])
        + b"\x00" * 8  # fixed64
        + bytes([5 << 3 | 2])
        + b"\x02ab"  # length-delimited
        + bytes([6 << 3 | 5])
        + b"\x00" * 4  # fixed32
    )
    info, data = decode_chunk(unknown + known)
    assert bytes(data) == b"wal"
    assert info == pb.FileInfo(size=3, source="s")
    assert pb.FetchChunk.FromString(unknown + known).data == b"wal"  # protobuf agrees


def test_repeated_fields_follow_protobuf() -> None:
    raw = encode_chunk(b"first", pb.FileInfo(size=1)) + encode_chunk(
        b"second", pb.FileInfo(source="s")
    )
    info, data = decode_chunk(raw)
    reference = pb.FetchChunk.FromString(raw)
    assert bytes(data) == reference.data == b"second"
    assert info == reference.info == pb.FileInfo(size=1, source="s")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (encode_chunk(b"abcdef")[:-2], "runs past the end"),
        (b"\x12\xff", "cut short"),
        (b"\x12" + b"\xff" * 11, "cut short"),
        (bytes([2 << 3 | 3]), "wire type 3"),
    ],
)
def test_malformed_messages_raise_value_error(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_chunk(raw)
    with pytest.raises(Exception):  # noqa: B017, PT011 - protobuf refuses them too
        pb.FetchChunk.FromString(raw)
