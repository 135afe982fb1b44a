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
