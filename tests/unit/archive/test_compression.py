"""The compression setting (what pg_receivewal --compress accepts, suffixes) and its decoders."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import lz4.frame
import pytest

from cnpg_wal_replica.archive.compression import DECODE_ERRORS, decoder, parse_compression


def test_compression_forms() -> None:
    assert parse_compression("lz4").argument() == "lz4"
    assert parse_compression("LZ4:3").argument() == "lz4:3"
    assert parse_compression("gzip").suffix == ".gz"
    with pytest.raises(ValueError, match="takes no level"):
        parse_compression("none:1")


@pytest.mark.parametrize(
    ("method", "compress"),
    [("gzip", gzip.compress), ("lz4", lz4.frame.compress)],
)
def test_one_decoder_per_method_reads_what_it_writes(
    method: str, compress: Callable[[bytes], bytes]
) -> None:
    content = bytes(range(256)) * 4096
    encoded = compress(content)
    decode = decoder(method)
    assert decode is not None
    assert decode.decompress(encoded[:100]) + decode.decompress(encoded[100:]) == content
    assert decode.eof
    broken = decoder(method)
    assert broken is not None
    with pytest.raises(DECODE_ERRORS):
        broken.decompress(b"\x04\x22\x4d\x18" + bytes(20) if method == "lz4" else bytes(20))


def test_plain_has_no_decoder() -> None:
    assert decoder(None) is None
    assert decoder("none") is None
