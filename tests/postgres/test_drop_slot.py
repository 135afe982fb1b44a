"""`drop-slot` (the cleanup Job's command) against real PostgreSQL over TLS cert auth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnpg_wal_replica import localpg, localtls
from cnpg_wal_replica.tools.drop_slot import conninfo_from_env, drop_slot

pytestmark = pytest.mark.postgres


def job_env(pg: localpg.LocalPostgres, slot: str) -> dict[str, str]:
    params = pg.replica_params()
    env = {f"WAL_RECEIVER_{key.upper()}": value for key, value in params.items()}
    env["WAL_RECEIVER_SLOT_NAME"] = slot
    env["WAL_RECEIVER_APPLICATION_NAME"] = "pg-wal-receiver"
    return env


def run_job(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `cnpg-wal-replica drop-slot` as the Job would, with ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "cnpg_wal_replica", "drop-slot"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def slots(pg: localpg.LocalPostgres) -> list[str]:
    return [row[0] for row in pg.sql("SELECT slot_name FROM pg_replication_slots")]


def test_drops_an_existing_slot_and_is_idempotent(primary: localpg.LocalPostgres) -> None:
    primary.sql("SELECT pg_create_physical_replication_slot('wal_replica', true)")
    conninfo = conninfo_from_env(job_env(primary, "wal_replica"))
    assert "sslmode=verify-full" in conninfo
    assert drop_slot(conninfo, "wal_replica") == "dropped"
    assert "wal_replica" not in slots(primary)
    assert drop_slot(conninfo, "wal_replica") == "absent"


def test_command_exits_zero_and_reports(primary: localpg.LocalPostgres) -> None:
    primary.sql("SELECT pg_create_physical_replication_slot('keep_me', true)")
    primary.sql("SELECT pg_create_physical_replication_slot('drop_me', true)")
    result = run_job(job_env(primary, "drop_me"))
    assert result.returncode == 0, result.stderr
    assert "slot 'drop_me' dropped" in result.stdout
    assert slots(primary) == ["keep_me"], "only the named slot is dropped"


def test_wrong_ca_is_refused_and_fails_the_job(
    primary: localpg.LocalPostgres, tmp_path: Path
) -> None:
    other_ca = localtls.write_other_ca(tmp_path / "other-ca.crt")
    result = run_job({**job_env(primary, "wal_replica"), "WAL_RECEIVER_SSLROOTCERT": str(other_ca)})
    assert result.returncode == 1
    assert "cannot drop slot 'wal_replica' yet" in result.stderr
    assert "certificate verify failed" in result.stderr
