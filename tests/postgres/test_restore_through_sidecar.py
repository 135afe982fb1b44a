"""Recovery from the receiver, all real: PostgreSQL 15 restores WAL through CNPG-I.

``restore_command`` runs ``cnpgi-wal-restore`` (tests/harness, built from the cnpg-i Go
stubs), which calls ``WAL/Restore`` on the sidecar's unix socket the way CNPG's instance
manager does; the sidecar (`cnpg-wal-replica sidecar`) fetches from the receiver's WAL
server (`cnpg-wal-replica receive` with ``WAL_RECEIVER_SERVE_TLS_DIRECTORY``) over mutual
TLS; the receiver streams from a primary through ``pg_receivewal`` as its synchronous
standby. No part is a double (support/localsidecar.py says how the sidecar runs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import harnesspaths
from support.localsidecar import (
    Sidecar,
    base_backup,
    cluster_definition,
    restoring_server,
    through_sidecar,
    wait_promoted,
)
from support.walpki import WalPki

from cnpg_wal_replica import localpg

from .conftest import APP, Receiver, wait_synchronous, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pki(workdir: Path) -> WalPki:
    return WalPki(workdir / "wal-pki")


@pytest.fixture
def restore_binary(workdir: Path) -> Path:
    """The Go client, copied where PostgreSQL's user may run it (the cache is under /root)."""
    binary = workdir / "cnpgi-wal-restore"
    shutil.copy(harnesspaths.cnpgi_wal_restore(), binary)
    binary.chmod(0o755)
    return binary


@pytest.fixture
def serving_receiver(
    primary: localpg.LocalPostgres, make_receiver: Callable[..., Receiver], pki: WalPki
) -> tuple[Receiver, int]:
    """The receiver as the synchronous standby, its WAL server on a free port."""
    primary.set_config(synchronous_standby_names=APP)
    port = localpg.free_port()
    receiver = make_receiver(
        primary,
        namespace="prod",
        serve_tls_directory=str(pki.server),
        serve_address=f"127.0.0.1:{port}",
        readers="dr/pg-copy",
    )
    wait_until(receiver.ready, 30, "the receiver to stream")
    wait_synchronous(primary)
    return receiver, port


@pytest.fixture
def sidecars(workdir: Path) -> Iterator[Callable[..., Sidecar]]:
    made: list[Sidecar] = []

    def make(port: int, tls: Path, name: str = "sidecar") -> Sidecar:
        sidecar = Sidecar(workdir, port, tls, name)
        made.append(sidecar)
        return sidecar

    yield make
    for sidecar in made:
        print(f"---- {sidecar.log_path.name} ----\n{sidecar.log()[-6000:]}")  # shown on failure
        if sidecar.proc.poll() is None:
            sidecar.proc.kill()
            sidecar.proc.wait()


def restoring(
    primary: localpg.LocalPostgres,
    data_dir: Path,
    sidecar: Sidecar,
    restore_binary: Path,
    *,
    mode: str,
    **settings: str,
) -> localpg.LocalPostgres:
    cluster = primary.root / f"{data_dir.name}-cluster.json"
    cluster.write_text(json.dumps(cluster_definition(data_dir.name)))
    command = through_sidecar(restore_binary, sidecar, cluster)
    return restoring_server(primary, data_dir, command, mode=mode, **settings)


def commit_rows(primary: localpg.LocalPostgres, batches: int, *, switch_every: int = 0) -> int:
    """Insert one row per transaction, ``batches`` times 20; the rows the table has."""
    primary.sql("CREATE TABLE IF NOT EXISTS t (id bigserial primary key, payload text)")
    for batch in range(batches):
        for _ in range(20):
            primary.sql("INSERT INTO t (payload) VALUES (repeat('p', 2000))")
        if switch_every and batch % switch_every == switch_every - 1:
            primary.sql("SELECT pg_switch_wal()")
    return int(primary.sql("SELECT count(*) FROM t")[0][0])


def test_recovery_after_losing_the_primary_holds_every_committed_row(
    primary: localpg.LocalPostgres,
    serving_receiver: tuple[Receiver, int],
    sidecars: Callable[..., Sidecar],
    pki: WalPki,
    restore_binary: Path,
) -> None:
    """RPO 0: the last transactions are only in the receiver's partial segment, and the
    recovered server has them."""
    receiver, port = serving_receiver
    data_dir = base_backup(primary, "recovered")
    commit_rows(primary, batches=12, switch_every=4)
    committed = commit_rows(primary, batches=2)  # after the last switch: the partial only
    last_id = primary.sql("SELECT max(id) FROM t")[0][0]
    primary.stop("immediate")  # the cluster is lost; the receiver keeps what it flushed

    sidecar = sidecars(port, pki.reader("dr", "pg-copy"))
    server = restoring(primary, data_dir, sidecar, restore_binary, mode="recovery")
    started = time.monotonic()
    server.start()
    wait_promoted(server)
    recovery_seconds = time.monotonic() - started
    assert server.sql("SELECT count(*), max(id) FROM t")[0] == (committed, last_id)
    restored = sidecar.events("restored")
    assert [e for e in restored if e.get("partial")], "the newest partial segment was served"
    assert len(restored) >= 3, restored
    assert sidecar.events("not_found"), "the end of the WAL was answered NOT_FOUND"
    timeline = server.sql("SELECT timeline_id FROM pg_control_checkpoint()")[0][0]
    assert timeline == 2
    print(f"recovered {committed} rows in {recovery_seconds:.1f} s")
    assert receiver.metric("cnpg_wal_replica_receiver_served_bytes_total")
    assert sidecar.stop() == 0


def test_a_standby_follows_the_primary_through_the_receiver_alone(
    primary: localpg.LocalPostgres,
    serving_receiver: tuple[Receiver, int],
    sidecars: Callable[..., Sidecar],
    pki: WalPki,
    restore_binary: Path,
) -> None:
    """No primary_conninfo: the standby re-requests the partial segment and sees each new
    commit, before that segment is complete."""
    _, port = serving_receiver
    data_dir = base_backup(primary, "follower")
    sidecar = sidecars(port, pki.reader("prod", "pg-replica"))
    server = restoring(primary, data_dir, sidecar, restore_binary, mode="standby")
    server.start()
    committed = commit_rows(primary, batches=3)
    wait_until(
        lambda: (
            server.sql("SELECT count(*) FROM t")[0][0] == committed
            if server.sql("SELECT to_regclass('t') IS NOT NULL")[0][0]
            else False
        ),
        60,
        "the standby to replay the first rows",
        interval=0.2,
    )
    primary.sql("INSERT INTO t (payload) VALUES ('one more')")
    wait_until(
        lambda: server.sql("SELECT count(*) FROM t")[0][0] == committed + 1,
        30,
        "the standby to see a commit still in the partial segment",
        interval=0.2,
    )
    assert server.sql("SELECT pg_is_in_recovery()")[0][0] is True
    partial_fetches = [e for e in sidecar.events("restored") if e.get("partial")]
    assert len(partial_fetches) >= 2, "the growing segment was fetched again"


def test_point_in_time_recovery_stops_at_the_restore_point(
    primary: localpg.LocalPostgres,
    serving_receiver: tuple[Receiver, int],
    sidecars: Callable[..., Sidecar],
    pki: WalPki,
    restore_binary: Path,
) -> None:
    _, port = serving_receiver
    data_dir = base_backup(primary, "pitr")
    before = commit_rows(primary, batches=3, switch_every=2)
    primary.sql("SELECT pg_create_restore_point('before-mistake')")
    commit_rows(primary, batches=3, switch_every=2)
    primary.sql("SELECT pg_switch_wal()")

    sidecar = sidecars(port, pki.reader("prod", "pg-pitr"))
    server = restoring(
        primary,
        data_dir,
        sidecar,
        restore_binary,
        mode="recovery",
        recovery_target_name="before-mistake",
        recovery_target_action="promote",
    )
    server.start()
    wait_promoted(server)
    assert server.sql("SELECT count(*) FROM t")[0][0] == before


def test_a_reader_the_origin_does_not_allow_gets_nothing(
    primary: localpg.LocalPostgres,
    serving_receiver: tuple[Receiver, int],
    sidecars: Callable[..., Sidecar],
    pki: WalPki,
    restore_binary: Path,
    workdir: Path,
) -> None:
    receiver, port = serving_receiver
    commit_rows(primary, batches=1)
    primary.sql("SELECT pg_switch_wal()")
    segment = wait_until(receiver.segments, 20, "a complete segment")[0]
    cluster = workdir / "cluster.json"
    cluster.write_text(json.dumps(cluster_definition("pg")))
    for name, tls, expected in (
        ("not-allowed", pki.reader("staging", "pg"), "PermissionDenied"),
        ("other-ca", pki.stranger("prod", "pg"), "Unavailable"),
    ):
        sidecar = sidecars(port, tls, name=name)
        destination = workdir / f"{name}-RECOVERYXLOG"
        done = subprocess.run(
            [
                str(restore_binary),
                f"--socket={sidecar.socket}",
                f"--cluster={cluster}",
                segment,
                str(destination),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 1
        assert f"cnpgi-wal-restore: {expected}" in done.stderr, done.stderr
        assert not destination.exists()
        assert not os.listdir(sidecar.spool)
