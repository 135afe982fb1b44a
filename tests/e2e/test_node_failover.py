"""The receiver follows the primary: restarts, a failover and a switchover under write load.

One 3-instance Cluster, tests in file order. After each event the receiver must stream from
the (new) primary, and at the end `verify` on its volume must find every timeline with its
history file and no gap.
"""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from support import harnesspaths, kubenode
from support.e2e import (
    HEALTHY,
    apply_document,
    cluster_status,
    get_json,
    psql,
    receiver_pod,
    switch_and_verify,
    wait_until,
)

from cnpg_wal_replica import metadata

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

PLUGIN = metadata.PLUGIN_NAME
PLUGIN_NAMESPACE = "cnpg-system"
PLUGIN_DEPLOYMENT = "cnpg-wal-replica"
FAILOVER_SECONDS: list[float] = []  # primary deleted -> new primary writable, per failover
WAL_DIRECTORY = "/var/lib/postgresql/wal"


class Failover:
    namespace = "e2e-failover"
    name = "fo"
    receiver = "fo-wal-receiver"


def other_instance(than: str) -> str:
    return next(p for p in (f"{Failover.name}-{i}" for i in (1, 2, 3)) if p != than)


def current_primary(node: kubenode.Node) -> str:
    status = get_json(node, "cluster", "-n", Failover.namespace, Failover.name).get("status", {})
    return str(status.get("currentPrimary", ""))


def receiver_streams_from(node: kubenode.Node, primary: str) -> bool:
    sql = (
        "select count(*) from pg_stat_replication "
        f"where application_name = '{Failover.receiver}' and state = 'streaming'"
    )
    return psql(node, Failover.namespace, primary, sql, check=False).strip() == "1"


def wait_for_new_primary(node: kubenode.Node, old: str) -> tuple[str, float]:
    """The new primary once it accepts writes, and when it did (monotonic seconds)."""

    def writable() -> str | None:
        primary = current_primary(node)
        if not primary or primary == old:
            return None
        sql = "select not pg_is_in_recovery()"
        writes = psql(node, Failover.namespace, primary, sql, check=False).strip() == "t"
        return primary if writes else None

    primary = wait_until(node, writable, 300, f"a writable primary other than {old}")
    return primary, time.monotonic()


def launch(node: kubenode.Node) -> None:
    """Apply the Cluster (see the e2e conftest)."""
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": Failover.name},
        "spec": {
            "instances": 3,
            "storage": {"size": "1Gi"},
            # A stopping primary first waits this long for its sessions (pgbench) to end;
            # CNPG's default of 180 s would make every restart and failover here wait that long.
            "smartShutdownTimeout": 5,
            "plugins": [{"name": PLUGIN}],
        },
    }
    apply_document(node, Failover.namespace, cluster)


@pytest.fixture(scope="module")
def load(kube_node: kubenode.Node) -> Iterator[subprocess.Popen[bytes]]:
    """The Cluster, healthy with its receiver streaming, and pgbench writing through -rw."""
    launch(kube_node)
    wait_until(
        kube_node,
        lambda: (p := current_primary(kube_node)) and receiver_streams_from(kube_node, p),
        600,
        "the Cluster with its receiver streaming",
    )
    secret = get_json(kube_node, "secret", "-n", Failover.namespace, f"{Failover.name}-app")
    password = base64.b64decode(secret["data"]["password"]).decode()
    # pgbench runs in a replica's pod and writes through the -rw Service, so it follows
    # the primary; it reconnects (a new run) whenever a failover cuts it off. Runs are short:
    # an in-place restart is a smart shutdown, which waits for every session to end.
    client = other_instance(current_primary(kube_node))
    script = (
        f"export PGPASSWORD='{password}' PGHOST={Failover.name}-rw PGUSER=app PGDATABASE=app; "
        "pgbench -i -s 1 -q >/dev/null 2>&1; "
        "while true; do pgbench -c 2 -T 15 -n >/dev/null 2>&1; sleep 1; done"
    )
    argv = [
        str(harnesspaths.node_binaries().kubectl),
        f"--kubeconfig={kube_node.kubeconfig}",
        "exec",
        "-n",
        Failover.namespace,
        client,
        "-c",
        "postgres",
        "--",
        "bash",
        "-c",
        script,
    ]
    bench = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(5)
    yield bench
    bench.kill()
    kube_node.kubectl("delete", "namespace", Failover.namespace, "--wait=false", check=False)


def test_primary_restart_and_receiver_restart_resume_streaming(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    primary = current_primary(kube_node)
    kube_node.kubectl_cnpg("restart", Failover.name, primary, "-n", Failover.namespace)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, current_primary(kube_node)),
        300,
        "streaming again after the primary's restart",
    )
    kube_node.kubectl("delete", "pod", "-n", Failover.namespace, receiver_pod(kube_node, Failover))
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, current_primary(kube_node)),
        300,
        "streaming again after the receiver pod was deleted",
    )


def test_failover_the_receiver_follows_the_new_primary(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    old = current_primary(kube_node)
    deleted_at = time.monotonic()
    kube_node.kubectl("delete", "pod", "-n", Failover.namespace, old, "--wait=false")
    primary, writable_at = wait_for_new_primary(kube_node, old)
    FAILOVER_SECONDS.append(writable_at - deleted_at)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, primary),
        300,
        f"the receiver streaming from {primary}",
    )
    print(
        f"e2e: failover: receiver streaming {time.monotonic() - writable_at:.1f} s "
        "after the new primary accepted writes (upper bound: 2 s polling)"
    )
    assert "wal_replica" in psql(
        kube_node, Failover.namespace, primary, "select slot_name from pg_replication_slots"
    )


def wait_healthy_again(node: kubenode.Node, after: str) -> None:
    def healthy() -> bool:
        return cluster_status(node, Failover.namespace, Failover.name).get("phase") == HEALTHY

    wait_until(node, healthy, 300, f"the Cluster healthy again after {after}")


def test_switchover_the_receiver_follows_and_verify_finds_every_timeline(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    wait_healthy_again(kube_node, after="the failover")
    old = current_primary(kube_node)
    target = other_instance(old)
    kube_node.kubectl_cnpg("promote", Failover.name, target, "-n", Failover.namespace)
    primary, writable_at = wait_for_new_primary(kube_node, old)
    wait_until(
        kube_node,
        lambda: receiver_streams_from(kube_node, primary),
        300,
        f"the receiver streaming from {primary}",
    )
    print(
        f"e2e: switchover: receiver streaming {time.monotonic() - writable_at:.1f} s "
        "after the new primary accepted writes (upper bound: 2 s polling)"
    )
    pod = receiver_pod(kube_node, Failover)
    switched, report = switch_and_verify(kube_node, Failover.namespace, primary, pod, WAL_DIRECTORY)
    timeline = int(switched[:8], 16)
    assert report["whole"] is True, report
    timelines = [t["timeline"] for t in report["timelines"]]
    assert timeline >= 3, switched  # a failover and a switchover
    assert timeline in timelines, report
    assert report["counts"]["histories"] >= timeline - 1, report


def names_the_plugin(phase: str) -> bool:
    """CNPG's phases for a plugin it cannot reach or load name plugins."""
    return "plugin" in phase.lower()


class PluginWatch:
    """Polls, every 0.5 s until stopped, how many plugin endpoints are ready and the phase of
    every Cluster, to show what a rollout of the plugin costs the Clusters that use it."""

    def __init__(self, node: kubenode.Node) -> None:
        self.node = node
        self.fewest_ready = 99
        self.phases: dict[str, list[tuple[float, str, str]]] = {}
        """Per Cluster: (when, phase, phaseReason) samples."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="e2e-plugin-watch", daemon=True)
        self._poll()  # the first sample is taken before the caller changes anything
        self._thread.start()

    def _poll(self) -> None:
        slices = get_json(
            self.node,
            "endpointslices",
            "-n",
            PLUGIN_NAMESPACE,
            "-l",
            f"kubernetes.io/service-name={PLUGIN_DEPLOYMENT}",
        )
        ready = sum(
            1
            for item in slices.get("items", [])
            for endpoint in item.get("endpoints") or []
            if endpoint.get("conditions", {}).get("ready")
        )
        self.fewest_ready = min(self.fewest_ready, ready)
        now = time.monotonic()
        for cluster in get_json(self.node, "clusters", "-A").get("items", []):
            key = f"{cluster['metadata']['namespace']}/{cluster['metadata']['name']}"
            status = cluster.get("status", {})
            sample = (now, status.get("phase", ""), status.get("phaseReason", ""))
            self.phases.setdefault(key, []).append(sample)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._poll()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._poll()

    def healthy_at_start(self) -> list[str]:
        """Clusters that were healthy when the watch began (a Cluster kept in a bad-parameter
        state on purpose elsewhere in the suite is not the rollout's doing)."""
        return [k for k, samples in self.phases.items() if samples[0][1] == HEALTHY]

    def longest_plugin_wait(self, cluster: str) -> float:
        """Longest stretch the Cluster's phase named the plugin (as CNPG reports a plugin it
        cannot reach), in seconds between the samples that bound it."""
        longest, began = 0.0, None
        for at, phase, _ in self.phases[cluster]:
            if names_the_plugin(phase):
                began = at if began is None else began
                longest = max(longest, at - began)
            else:
                began = None
        return longest

    def plugin_phases(self, cluster: str) -> list[str]:
        """The plugin-failure phases seen, each with CNPG's reason (the error it met)."""
        seen = self.phases[cluster]
        return sorted({f"{p}: {r}" for _, p, r in seen if names_the_plugin(p)})


def test_a_plugin_rollout_during_a_failover_blocks_no_cluster(
    kube_node: kubenode.Node, load: subprocess.Popen[bytes]
) -> None:
    wait_healthy_again(kube_node, after="the switchover")
    watch = PluginWatch(kube_node)
    try:
        deployment = f"deployment/{PLUGIN_DEPLOYMENT}"
        kube_node.kubectl("rollout", "restart", "-n", PLUGIN_NAMESPACE, deployment)
        old = current_primary(kube_node)
        deleted_at = time.monotonic()
        kube_node.kubectl("delete", "pod", "-n", Failover.namespace, old, "--wait=false")
        primary, writable_at = wait_for_new_primary(kube_node, old)
        wait_until(
            kube_node,
            lambda: receiver_streams_from(kube_node, primary),
            300,
            f"the receiver streaming from {primary} during the plugin's rollout",
        )
        streaming_at = time.monotonic()
        kube_node.kubectl(
            "rollout", "status", "-n", PLUGIN_NAMESPACE, deployment, "--timeout=300s", timeout=310
        )
    finally:
        watch.stop()
    failover = writable_at - deleted_at
    watched = watch.healthy_at_start()
    waits = {cluster: watch.longest_plugin_wait(cluster) for cluster in watched}
    print(
        f"e2e: plugin rollout during a failover: new primary writable after {failover:.1f} s "
        f"(without a rollout: {', '.join(f'{s:.1f}' for s in FAILOVER_SECONDS)} s), receiver "
        f"streaming {streaming_at - writable_at:.1f} s later; fewest ready plugin endpoints "
        f"{watch.fewest_ready}; longest wait on the plugin of {len(watched)} healthy Clusters: "
        f"{max(waits.values(), default=0.0):.1f} s"
    )
    assert f"{Failover.namespace}/{Failover.name}" in watched, watch.phases
    assert watch.fewest_ready >= 1, "the rollout left the plugin without a ready endpoint"
    blocked = {c: watch.plugin_phases(c) for c in watched if watch.plugin_phases(c)}
    assert not blocked, (blocked, operator_plugin_errors(kube_node))


def operator_plugin_errors(node: kubenode.Node) -> list[str]:
    """The operator's log lines about plugins that are errors: why a Cluster was blocked."""
    logs = node.kubectl(
        "logs",
        "-n",
        PLUGIN_NAMESPACE,
        "deployment/cnpg-controller-manager",
        "--since=10m",
        check=False,
    ).stdout.splitlines()
    return [line for line in logs if "plugin" in line.lower() and '"error"' in line][-10:]
