"""Recovery from the receiver under the real operator: a replica cluster in another namespace
follows `pg` through its receiver alone, and holds every committed row once `pg` is gone.

`pg` (namespace e2e-origin) has a synchronous receiver that admits the reader
`e2e-reader/rep`. `rep` is bootstrapped with `pg_basebackup` from `pg` (an externalClusters
entry with connection parameters and the copied replication Secrets, as CNPG documents for
a replica cluster in another namespace), and follows through a second entry that names only
our plugin: no streaming, every byte of WAL after the base backup comes from `pg`'s receiver
through the injected sidecar, the newest partial segment included.

Then, while `pgbench` commits on `pg`, `pg` is deleted with its volumes; `rep` is promoted
and must hold every transaction pgbench saw committed (RPO 0). Tests run in file order.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support import kubenode
from support.e2e import (
    apply_document,
    ensure_namespace,
    get_json,
    healthy_primary,
    psql,
    receiver_pod,
    scrape,
    streaming_source,
    wait_until,
)

from cnpg_wal_replica.archive.names import parse_lsn
from cnpg_wal_replica.metadata import PLUGIN_NAME, RECEIVER_HTTP_PORT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ORIGIN_NS = "e2e-origin"
READER_NS = "e2e-reader"
ORIGIN = "pg"
READER = "rep"
RECEIVER = f"{ORIGIN}-wal-receiver"
PGBENCH = "pgbench"
SIDECAR = "cnpg-wal-replica"


def origin_cluster() -> dict[str, Any]:
    """One instance whose receiver is its synchronous standby, readable from e2e-reader/rep."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": ORIGIN},
        "spec": {
            "instances": 1,
            "storage": {"size": "1Gi"},
            # Deleting the Cluster waits this long for clients (pgbench) before a fast
            # shutdown; CNPG's default, 180 s, would only make the test wait.
            "smartShutdownTimeout": 5,
            "postgresql": {
                "synchronous": {
                    "method": "first",
                    "number": 1,
                    "dataDurability": "required",
                    "standbyNamesPre": [RECEIVER],
                }
            },
            "plugins": [
                {
                    "name": PLUGIN_NAME,
                    "parameters": {"synchronous": "active", "readers": f"{READER_NS}/{READER}"},
                }
            ],
        },
    }


def reader_cluster() -> dict[str, Any]:
    """The replica cluster as docs/restore.md shows it."""
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": READER},
        "spec": {
            "instances": 1,
            "storage": {"size": "1Gi"},
            "bootstrap": {"pg_basebackup": {"source": "origin-db"}},
            "replica": {"enabled": True, "source": "origin"},
            "externalClusters": [
                streaming_source("origin-db", f"{ORIGIN}-rw.{ORIGIN_NS}.svc", ORIGIN),
                {
                    "name": "origin",
                    "plugin": {
                        "name": PLUGIN_NAME,
                        "parameters": {"cluster": ORIGIN, "namespace": ORIGIN_NS},
                    },
                },
            ],
        },
    }


def copy_secret(node: kubenode.Node, name: str, key: str) -> None:
    """One key of an origin Secret into the reader's namespace, as the user copies it."""
    secret = get_json(node, "secret", "-n", ORIGIN_NS, name)
    keys = [key] if key == "ca.crt" else ["tls.crt", "tls.key"]
    copied = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": {k: secret["data"][k] for k in keys},
    }
    apply_document(node, READER_NS, copied)


def origin_ready(node: kubenode.Node) -> str | None:
    """The origin's primary once it is healthy and its receiver is its synchronous standby."""
    primary = healthy_primary(node, ORIGIN_NS, ORIGIN, 1)
    if primary is None:
        return None
    sql = "select application_name, sync_state from pg_stat_replication"
    rows = psql(node, ORIGIN_NS, primary, sql, check=False).split()
    states = dict(row.split("|", 1) for row in rows)
    return primary if states.get(RECEIVER) == "sync" else None


def launch(node: kubenode.Node) -> None:
    """Apply the origin now and the reader once the origin can be copied (see the conftest)."""
    ensure_namespace(node, READER_NS)
    apply_document(node, ORIGIN_NS, origin_cluster())

    def then_reader() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not origin_ready(node):
            time.sleep(2)
        copy_secret(node, f"{ORIGIN}-replication", "tls")
        copy_secret(node, f"{ORIGIN}-ca", "ca.crt")
        apply_document(node, READER_NS, reader_cluster())

    threading.Thread(target=then_reader, name="e2e-recovery-launch", daemon=True).start()


@pytest.fixture(scope="module")
def origin(kube_node: kubenode.Node) -> Iterator[str]:
    yield wait_until(kube_node, lambda: origin_ready(kube_node), 600, "origin healthy, sync")
    kube_node.kubectl("delete", "namespace", ORIGIN_NS, "--wait=false", check=False)


@pytest.fixture(scope="module")
def reader(kube_node: kubenode.Node, origin: str) -> Iterator[str]:
    designated = wait_until(
        kube_node,
        lambda: healthy_primary(kube_node, READER_NS, READER, 1),
        600,
        "the replica cluster healthy",
    )
    yield designated
    kube_node.kubectl("delete", "namespace", READER_NS, "--wait=false", check=False)


@dataclass(frozen=True)
class Named:
    namespace: str
    name: str


ORIGIN_CLUSTER = Named(ORIGIN_NS, ORIGIN)


def served(node: kubenode.Node) -> dict[str, float]:
    samples = scrape(node, ORIGIN_NS, receiver_pod(node, ORIGIN_CLUSTER), RECEIVER_HTTP_PORT)
    return {k: v for k, v in samples.items() if "served_files_total" in k}


def replay_lsn(node: kubenode.Node, pod: str) -> int:
    text = psql(node, READER_NS, pod, "select pg_last_wal_replay_lsn() - '0/0'", check=False)
    return int(float(text.strip() or 0))


PAGE = 8192
"""`verify` reports where the partial's last written WAL page ends; replay stops at the
last complete record, within that page."""


def test_the_replica_cluster_restores_through_the_injected_sidecar_only(
    kube_node: kubenode.Node, reader: str
) -> None:
    pod = get_json(kube_node, "pod", "-n", READER_NS, reader)
    init = {c["name"]: c for c in pod["spec"]["initContainers"]}
    assert init[SIDECAR]["restartPolicy"] == "Always", "a native sidecar"
    statuses = {s["name"]: s for s in pod["status"].get("initContainerStatuses", [])}
    assert statuses[SIDECAR].get("started") is True, statuses[SIDECAR]
    certificate = get_json(kube_node, "certificate", "-n", READER_NS, f"{READER}-wal-reader")
    conditions = {c["type"]: c["status"] for c in certificate["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert psql(kube_node, READER_NS, reader, "select pg_is_in_recovery()").strip() == "t"
    streaming = psql(kube_node, READER_NS, reader, "select count(*) from pg_stat_wal_receiver")
    assert streaming.strip() == "0", "the replica cluster does not stream: WAL only via restore"
    # The origin pods have no sidecar: nothing of the reader's is injected into them.
    origin_pod = get_json(kube_node, "pod", "-n", ORIGIN_NS, f"{ORIGIN}-1")
    names = [c["name"] for c in origin_pod["spec"].get("initContainers", [])]
    assert SIDECAR not in names


def test_a_committed_row_reaches_the_replica_through_the_partial_segment(
    kube_node: kubenode.Node, origin: str, reader: str
) -> None:
    before = served(kube_node)
    psql(kube_node, ORIGIN_NS, origin, "create table if not exists e2e_follow (v text)")
    psql(kube_node, ORIGIN_NS, origin, "insert into e2e_follow values ('through the receiver')")
    # No segment switch: the row is only in the receiver's partial segment.

    def arrived() -> bool:
        sql = "select count(*) from e2e_follow where v = 'through the receiver'"
        return psql(kube_node, READER_NS, reader, sql, check=False).strip() == "1"

    wait_until(kube_node, arrived, 120, "the row replayed on the replica cluster")
    after = served(kube_node)
    partial = 'cnpg_wal_replica_receiver_served_files_total{kind="partial",outcome="ok"}'
    assert after[partial] > before.get(partial, 0), after


def test_after_losing_pg_and_its_volumes_the_promoted_replica_holds_every_commit(
    kube_node: kubenode.Node, origin: str, reader: str
) -> None:
    image = kube_node.image_refs["postgresql"]
    bench = "pgbench -i -s 1 -q && pgbench -n -c 4 -j 2 -T 600 -P 5 --max-tries=1 || true"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": PGBENCH},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsUser": 26, "runAsGroup": 26, "runAsNonRoot": True},
            "containers": [
                {
                    "name": PGBENCH,
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-c", bench],
                    "env": [
                        {"name": "PATH", "value": "/usr/lib/postgresql/15/bin:/usr/bin:/bin"},
                        {"name": "PGHOST", "value": f"{ORIGIN}-rw"},
                        {"name": "PGUSER", "value": "app"},
                        {"name": "PGDATABASE", "value": "app"},
                        {"name": "PGSSLMODE", "value": "require"},
                        {
                            "name": "PGPASSWORD",
                            "valueFrom": {
                                "secretKeyRef": {"name": f"{ORIGIN}-app", "key": "password"}
                            },
                        },
                    ],
                }
            ],
        },
    }
    apply_document(kube_node, ORIGIN_NS, pod)

    def committing() -> bool:
        logs = kube_node.kubectl("logs", "-n", ORIGIN_NS, PGBENCH, check=False).stdout
        return len(re.findall(r"progress: \d+\.\d s, [1-9]", logs)) >= 2

    wait_until(kube_node, committing, 300, "pgbench committing on pg")
    kube_node.kubectl("delete", "cluster", "-n", ORIGIN_NS, ORIGIN, "--wait=false")

    def finished() -> str | None:
        phase = get_json(kube_node, "pod", "-n", ORIGIN_NS, PGBENCH).get("status", {})
        if phase.get("phase") not in ("Succeeded", "Failed"):
            return None
        return str(kube_node.kubectl("logs", "-n", ORIGIN_NS, PGBENCH).stdout)

    logs = wait_until(kube_node, finished, 300, "pgbench ended with its server gone")
    processed = re.search(r"number of transactions actually processed: (\d+)", logs)
    assert processed, logs[-2000:]
    committed = int(processed[1])
    assert committed > 0

    def volumes_gone() -> bool:
        pvcs = get_json(kube_node, "pvc", "-n", ORIGIN_NS, "-l", f"cnpg.io/cluster={ORIGIN}")
        return all(p["metadata"]["name"] == RECEIVER for p in pvcs.get("items", []))

    wait_until(kube_node, volumes_gone, 180, "pg's instances and volumes gone")
    assert not get_json(kube_node, "cluster", "-n", ORIGIN_NS, ORIGIN)

    # What docs/restore.md tells users to compare before promoting: where the receiver's
    # partial segment ends (`verify`), and the replica's replay position.
    verify = kube_node.kubectl(
        "exec", "-n", ORIGIN_NS, receiver_pod(kube_node, ORIGIN_CLUSTER), "--",
        "cnpg-wal-replica", "verify", "--json", "/var/lib/postgresql/wal", check=False,
    ).stdout  # fmt: skip
    partial_end = parse_lsn(json.loads(verify)["recoverable"]["partial_end_lsn"])
    last = {"lsn": -1, "since": time.monotonic()}

    def replay_settled() -> bool:
        lsn = replay_lsn(kube_node, reader)
        if lsn != last["lsn"]:
            last.update(lsn=lsn, since=time.monotonic())
        return bool(lsn >= partial_end - PAGE and time.monotonic() - last["since"] > 15)

    wait_until(kube_node, replay_settled, 300, "the replica replayed what the receiver flushed")
    behind = partial_end - int(last["lsn"])
    kube_node.kubectl(
        "patch", "cluster", "-n", READER_NS, READER, "--type=merge",
        "-p", json.dumps({"spec": {"replica": {"enabled": False}}}),
    )  # fmt: skip

    def promoted() -> str | None:
        primary = healthy_primary(kube_node, READER_NS, READER, 1)
        if primary is None:
            return None
        state = psql(kube_node, READER_NS, primary, "select pg_is_in_recovery()", check=False)
        return primary if state.strip() == "f" else None

    primary = wait_until(kube_node, promoted, 300, "the replica cluster promoted")
    count = kube_node.kubectl(
        "exec", "-n", READER_NS, primary, "-c", "postgres", "--",
        "psql", "-XAtq", "-d", "app", "-c", "select count(*) from pgbench_history",
    )  # fmt: skip
    rows = int(count.stdout.strip())
    print(
        f"e2e: RPO: pgbench reported {committed} committed transactions, the promoted replica "
        f"holds {rows} (lost {max(committed - rows, 0)}); it had replayed to {behind} bytes "
        "short of the last written page of the receiver's partial segment"
    )
    assert rows >= committed, f"lost {committed - rows} committed transactions"
