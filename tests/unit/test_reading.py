"""The reader identity carried in client certificates round-trips and rejects look-alikes."""

from __future__ import annotations

import pytest

from cnpg_wal_replica import reading


@pytest.mark.parametrize(
    ("namespace", "cluster"), [("prod", "pg"), ("a-b", "x" * 50), ("team.1", "pg-2")]
)
def test_reader_uri_round_trips(namespace: str, cluster: str) -> None:
    uri = reading.reader_uri(namespace, cluster)
    assert uri.startswith("cnpg-wal-replica://reader/")
    assert reading.parse_reader_uri(uri) == (namespace, cluster)


@pytest.mark.parametrize(
    "uri",
    [
        "spiffe://reader/prod/pg",
        "cnpg-wal-replica://reader/prod",
        "cnpg-wal-replica://reader/prod/pg/extra",
        "cnpg-wal-replica://reader//pg",
        "cnpg-wal-replica://writer/prod/pg",
    ],
)
def test_other_uris_are_not_readers(uri: str) -> None:
    assert reading.parse_reader_uri(uri) is None


def test_the_service_host_is_cluster_local() -> None:
    assert reading.receiver_service_host("pg-wal-receiver", "prod") == "pg-wal-receiver.prod.svc"


def test_readers_parse_clusters_and_namespaces() -> None:
    patterns = reading.parse_readers(" prod/pg-copy, staging/* ,,")
    assert patterns == (
        reading.ReaderPattern("prod", "pg-copy"),
        reading.ReaderPattern("staging", None),
    )
    assert [str(p) for p in patterns] == ["prod/pg-copy", "staging/*"]
    assert reading.parse_readers("") == ()


@pytest.mark.parametrize("entry", ["prod", "prod/", "/pg", "Prod/pg", "prod/pg/x", "*/*", "a_b/c"])
def test_a_bad_reader_entry_is_named_with_an_example(entry: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. prod/pg-copy, staging/\*") as caught:
        reading.parse_readers(f"ok/pg, {entry}")
    assert repr(entry) in str(caught.value)


def test_the_own_namespace_always_reads_others_only_when_listed() -> None:
    patterns = reading.parse_readers("dr/pg-copy, audit/*")
    assert reading.reader_allowed("prod", "anything", "prod", ())
    assert reading.reader_allowed("dr", "pg-copy", "prod", patterns)
    assert reading.reader_allowed("audit", "x", "prod", patterns)
    assert not reading.reader_allowed("dr", "other", "prod", patterns)
    assert not reading.reader_allowed("staging", "pg-copy", "prod", patterns)
