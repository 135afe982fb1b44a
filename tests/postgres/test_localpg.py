"""The throwaway PostgreSQL of demo/tests/benchmarks: TLS only, certificate auth, standbys."""

from __future__ import annotations

import time

import psycopg
import pytest

from cnpg_wal_replica.localtls import make_tls

pytestmark = pytest.mark.postgres


def test_replication_role_authenticates_with_its_certificate(primary):
    params = primary.replica_params()
    with psycopg.connect(**params, dbname="postgres") as conn:
        row = conn.execute(
            "SELECT current_user, ssl, client_dn FROM pg_stat_ssl "
            "JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row == ("streaming_replica", True, "/CN=streaming_replica")
    assert primary.sql(
        "SELECT rolreplication FROM pg_roles WHERE rolname = %s", ("streaming_replica",)
    ) == [(True,)]


def test_no_tls_or_no_certificate_is_refused(primary, workdir):
    params = primary.replica_params()
    plain = {**params, "sslmode": "disable"}
    with pytest.raises(psycopg.OperationalError, match=r"no pg_hba\.conf entry"):
        psycopg.connect(**plain, dbname="postgres")
    other = make_tls(workdir / "other-tls")  # a client certificate from another CA
    foreign = {**params, "sslcert": str(other.client_cert), "sslkey": str(other.client_key)}
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**foreign, dbname="postgres")


@pytest.mark.slow
def test_standby_follows_and_promotes(primary):
    standby = primary.create_standby()
    assert standby.sql("SELECT pg_is_in_recovery()") == [(True,)]
    primary.sql("CREATE TABLE t AS SELECT 1 AS x")
    ((written,),) = primary.sql("SELECT pg_current_wal_lsn()")
    # Streaming is asynchronous: promoting before the standby replayed the table would lose
    # it (seen once in CI), so wait for the replay first.
    deadline = time.monotonic() + 30
    while standby.sql("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,)) != [(True,)]:
        assert time.monotonic() < deadline, f"the standby never replayed up to {written}"
        time.sleep(0.05)
    standby.promote()
    assert standby.sql("SELECT pg_is_in_recovery()") == [(False,)]
    assert standby.sql("SELECT x FROM t") == [(1,)]
    assert standby.port != primary.port
