"""The receiver as a synchronous standby, from examples/cluster-synchronous.yaml.

As the example documents: the receiver is first in `synchronous_standby_names` and is the
synchronous standby; when it is gone the next listed standby takes over. When every listed
standby is required (`number` = all of them), a commit waits for the receiver and completes
within seconds after it is back.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml
from support import harnesspaths, kubenode
from support.e2e import HEALTHY, ensure_namespace, get_json, psql, psql_argv, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXAMPLE = harnesspaths.REPO_ROOT / "examples" / "cluster-synchronous.yaml"
NAMESPACE = "e2e-sync"
NAME = yaml.safe_load(EXAMPLE.read_text())["metadata"]["name"]
RECEIVER = f"{NAME}-wal-receiver"
SYNC_STATES = "select application_name, sync_state from pg_stat_replication"


def sync_states(node: kubenode.Node, primary: str) -> dict[str, str]:
    rows = psql(node, NAMESPACE, primary, SYNC_STATES).split()
    return dict(row.split("|", 1) for row in rows)


def scale_receiver(node: kubenode.Node, replicas: int) -> None:
    node.kubectl("scale", "-n", NAMESPACE, f"deployment/{RECEIVER}", f"--replicas={replicas}")


def launch(node: kubenode.Node) -> None:
    """Apply the example as a user does (see the e2e conftest)."""
    ensure_namespace(node, NAMESPACE)
    node.kubectl("apply", "-n", NAMESPACE, "-f", str(EXAMPLE))


@pytest.fixture(scope="module")
def primary(kube_node: kubenode.Node) -> Iterator[str]:
    launch(kube_node)

    def receiver_sync() -> str | None:
        status = get_json(kube_node, "cluster", "-n", NAMESPACE, NAME).get("status", {})
        if status.get("phase") != HEALTHY or status.get("readyInstances") != 3:
            return None
        current = str(status["currentPrimary"])
        return current if sync_states(kube_node, current).get(RECEIVER) == "sync" else None

    yield wait_until(kube_node, receiver_sync, 600, "healthy Cluster, receiver the sync standby")
    kube_node.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_receiver_is_listed_first_and_is_the_synchronous_standby(
    kube_node: kubenode.Node, primary: str
) -> None:
    names = psql(kube_node, NAMESPACE, primary, "show synchronous_standby_names").strip()
    assert names.startswith(f'FIRST 1 ("{RECEIVER}"'), names
    assert sync_states(kube_node, primary)[RECEIVER] == "sync"


def test_without_the_receiver_the_next_standby_takes_over(
    kube_node: kubenode.Node, primary: str
) -> None:
    psql(kube_node, NAMESPACE, primary, "create table if not exists e2e_sync (i int)")
    scale_receiver(kube_node, 0)
    try:
        wait_until(
            kube_node,
            lambda: RECEIVER not in sync_states(kube_node, primary),
            120,
            "the receiver gone from pg_stat_replication",
        )
        states = sync_states(kube_node, primary)
        assert "sync" in states.values(), states
        started = time.monotonic()
        psql(kube_node, NAMESPACE, primary, "insert into e2e_sync values (1)")
        assert time.monotonic() - started < 10
    finally:
        scale_receiver(kube_node, 1)
    wait_until(
        kube_node,
        lambda: sync_states(kube_node, primary).get(RECEIVER) == "sync",
        120,
        "the receiver the sync standby again",
    )


def test_with_every_standby_required_a_commit_waits_for_the_receiver(
    kube_node: kubenode.Node, primary: str
) -> None:
    kube_node.kubectl(
        "patch",
        "cluster",
        "-n",
        NAMESPACE,
        NAME,
        "--type=merge",
        "-p",
        '{"spec": {"postgresql": {"synchronous": {"number": 3}}}}',
    )
    wait_until(
        kube_node,
        lambda: list(sync_states(kube_node, primary).values()).count("sync") == 3,
        120,
        "three synchronous standbys",
    )

    def receiver_away() -> bool:
        # The plugin owns the Deployment: a reconcile of the Cluster (the patch above starts
        # a few) restores one replica, so the scale-down is repeated until it holds.
        scale_receiver(kube_node, 0)
        return RECEIVER not in sync_states(kube_node, primary)

    wait_until(kube_node, receiver_away, 180, "the receiver gone from pg_stat_replication")
    insert = [
        str(harnesspaths.node_binaries().kubectl),
        f"--kubeconfig={kube_node.kubeconfig}",
        *psql_argv(NAMESPACE, primary, "insert into e2e_sync values (2)"),
    ]
    commit = subprocess.Popen(insert, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(8)
        assert commit.poll() is None, "the commit returned without the receiver"
        waiting = "select count(*) from pg_stat_activity where wait_event = 'SyncRep'"
        assert psql(kube_node, NAMESPACE, primary, waiting).strip() == "1"
        back = time.monotonic()
        scale_receiver(kube_node, 1)
        commit.wait(timeout=120)
        seconds = time.monotonic() - back
    finally:
        if commit.poll() is None:
            commit.kill()
        scale_receiver(kube_node, 1)
    assert commit.returncode == 0, commit.stderr.read() if commit.stderr else ""
    print(f"e2e: the waiting commit completed {seconds:.1f} s after the receiver was scaled back")
    assert seconds < 60
    count = psql(kube_node, NAMESPACE, primary, "select count(*) from e2e_sync where i = 2")
    assert count.strip() == "1"
