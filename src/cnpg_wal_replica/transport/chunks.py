"""``FetchChunk`` framed by hand, so WAL crosses the protobuf layer without being copied.

A ``FetchChunk`` (``proto/wal_archive.proto``) is ``info`` (field 1, a ``FileInfo``, in the
first message only) and ``data`` (field 2, bytes). The generated code copies ``data`` into a
message and out of it again on each side: four copies of every segment served, on top of
those TLS and the kernel make. These functions write and read the same wire format: the
server sends one buffer per chunk, the client gets a view into what gRPC received. Tests
check both directions against the generated code.
"""

from __future__ import annotations

from cnpg_wal_replica._pb import wal_archive_pb2 as pb

_FETCH = pb.DESCRIPTOR.services_by_name["WALArchive"].methods_by_name["Fetch"]
FETCH_PATH = f"/{_FETCH.containing_service.full_name}/{_FETCH.name}"
"""The gRPC method path of ``WALArchive/Fetch``."""

_INFO_KEY = bytes([pb.FetchChunk.INFO_FIELD_NUMBER << 3 | 2])
_DATA_KEY = bytes([pb.FetchChunk.DATA_FIELD_NUMBER << 3 | 2])
_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def encode_chunk(data: bytes, info: pb.FileInfo | None = None) -> bytes:
    """One ``FetchChunk`` as bytes: *info* (when given) and *data*."""
    head = b""
    if info is not None:
        serialized = info.SerializeToString()
        head = _INFO_KEY + _varint(len(serialized)) + serialized
    return b"".join((head, _DATA_KEY, _varint(len(data)), data))


def decode_chunk(raw: bytes) -> tuple[pb.FileInfo | None, memoryview]:
    """``info`` (None when absent) and ``data`` of one ``FetchChunk``, as a view into *raw*.

    Unknown fields are skipped, as protobuf does; a malformed message raises ``ValueError``
    (gRPC then fails the call with INTERNAL, which the sidecar retries).
    """
    view = memoryview(raw)
    info: pb.FileInfo | None = None
    data = view[0:0]
    at = 0
    while at < len(view):
        key, at = _read_varint(view, at)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, at = _read_varint(view, at)
            continue
        if wire == _LENGTH_DELIMITED:
            size, start = _read_varint(view, at)
            at = start + size
        elif wire in (_FIXED64, _FIXED32):
            start, at = at, at + (8 if wire == _FIXED64 else 4)
        else:
            raise ValueError(f"FetchChunk: wire type {wire} of field {field} is not valid here")
        if at > len(view):
            raise ValueError(f"FetchChunk: field {field} runs past the end of the message")
        if wire != _LENGTH_DELIMITED:
            continue
        if field == pb.FetchChunk.DATA_FIELD_NUMBER:
            data = view[start:at]
        elif field == pb.FetchChunk.INFO_FIELD_NUMBER:
            info = info or pb.FileInfo()
            info.MergeFromString(view[start:at].tobytes())  # repeated: merged, as protobuf does
    return info, data


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(view: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(view) and shift < 64:
        byte = view[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
    raise ValueError("FetchChunk: a varint is cut short or longer than 10 bytes")
