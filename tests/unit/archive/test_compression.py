"""The compression setting: the forms pg_receivewal --compress accepts, and file suffixes."""

from __future__ import annotations

import pytest

from cnpg_wal_replica.archive.compression import parse_compression


def test_compression_forms() -> None:
    assert parse_compression("lz4").argument() == "lz4"
    assert parse_compression("LZ4:3").argument() == "lz4:3"
    assert parse_compression("gzip").suffix == ".gz"
    with pytest.raises(ValueError, match="takes no level"):
        parse_compression("none:1")
