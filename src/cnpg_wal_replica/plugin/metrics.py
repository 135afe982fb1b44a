"""The plugin server's Prometheus metrics (own registry) and the plain-text /metrics port.

Per-Cluster series come from the janitor's sweep, which every replica runs over the same
Clusters, so all replicas report the same values (up to one interval apart) and a series
goes when its Cluster no longer uses the plugin. They carry the Cluster's ``namespace``
and ``cluster``; the monitoring kit's PodMonitor keeps them (``honorLabels``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from cnpg_wal_replica import metadata

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from cnpg_wal_replica.plugin.janitor import Sweep

PREFIX = "cnpg_wal_replica_server_"
CALL_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
"""Seconds: a steady-state Pre or Post takes about a millisecond, a first Post's writes
a few hundred."""


class ServerMetrics:
    """What the plugin server exports, besides the process's own metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.info = Gauge(
            PREFIX + "info", "The plugin's version (label), value 1.", ["version"], registry=r
        )
        self.info.labels(metadata.VERSION).set(1)
        self.synchronous_expected = Gauge(
            PREFIX + "synchronous_expected",
            "1 for each Cluster that enables the plugin with synchronous: active "
            "(the receiver is meant to be a synchronous standby), as of the last sweep.",
            ["namespace", "cluster"],
            registry=r,
        )
        self.last_sweep = Gauge(
            PREFIX + "janitor_last_sweep_timestamp_seconds",
            "When the janitor last finished a sweep of every Cluster.",
            registry=r,
        )

        self.calls = Histogram(
            PREFIX + "call_duration_seconds",
            "Seconds the plugin took to answer a CNPG-I call (its own share of the "
            "operator's wait), by gRPC method and outcome (ok, error).",
            ["method", "outcome"],
            buckets=CALL_BUCKETS,
            registry=r,
        )

    def observe_call(self, method: str, outcome: str, seconds: float) -> None:
        """One call answered (`plugin.calltiming.CallTimer` reports them)."""
        self.calls.labels(method, outcome).observe(seconds)

    def observe_sweep(self, sweep: Sweep) -> None:
        """Replace the per-Cluster series with what this sweep saw."""
        self.synchronous_expected.clear()
        for namespace, cluster in sweep.synchronous:
            self.synchronous_expected.labels(namespace, cluster).set(1)
        self.last_sweep.set(time.time())


SERVER_METRICS = ServerMetrics()
"""The process's one set: the server serves it, the janitor's sweeps feed it."""


def serve_metrics(host: str, port: int, metrics: ServerMetrics) -> WSGIServer:
    """Serve ``/metrics`` in a background thread; OSError when the address cannot be bound.

    ``host`` empty means every IPv4 interface. The caller shuts the server down.
    """
    every = "0.0.0.0"  # noqa: S104 - the metrics port is meant for the cluster's Prometheus
    server, _thread = start_http_server(port, addr=host or every, registry=metrics.registry)
    return server
