"""Resource use of pods on the e2e node, sampled from the kubelet's summary API.

The kubelet's `/stats/summary` (read through the API server's node proxy) gives each
container's CPU time and memory; `UsageSampler` polls it in a thread while the e2e suite runs
and reports, per pod of a selector, peak RSS and the average CPU over the time it was seen.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from support import kubenode


@dataclass
class PodUsage:
    """What one pod used while it was sampled."""

    first_seen: float
    first_cpu_ns: int
    last_seen: float = 0.0
    last_cpu_ns: int = 0
    peak_rss_bytes: int = 0

    @property
    def cpu_cores(self) -> float:
        seconds = self.last_seen - self.first_seen
        return (self.last_cpu_ns - self.first_cpu_ns) / 1e9 / seconds if seconds > 0 else 0.0


@dataclass
class UsageSampler:
    """Samples the pods of `namespace` whose names start with `prefix`, every `interval` s."""

    node: kubenode.Node
    namespace: str
    prefix: str
    interval: float = 10.0
    pods: dict[str, PodUsage] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, name="e2e-usage", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        nodes = json.loads(self.node.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        path = f"/api/v1/nodes/{nodes[0]['metadata']['name']}/proxy/stats/summary"
        while not self._stop.wait(self.interval):
            result = self.node.kubectl("get", "--raw", path, check=False)
            if result.returncode == 0:
                self._record(json.loads(result.stdout), time.monotonic())

    def _record(self, summary: dict[str, Any], now: float) -> None:
        for pod in summary.get("pods", []):
            ref = pod["podRef"]
            if ref["namespace"] != self.namespace or not ref["name"].startswith(self.prefix):
                continue
            cpu = sum(c.get("cpu", {}).get("usageCoreNanoSeconds", 0) for c in pod["containers"])
            rss = sum(c.get("memory", {}).get("rssBytes", 0) for c in pod["containers"])
            usage = self.pods.setdefault(ref["name"], PodUsage(now, cpu))
            usage.last_seen, usage.last_cpu_ns = now, cpu
            usage.peak_rss_bytes = max(usage.peak_rss_bytes, rss)

    def report(self) -> list[str]:
        """One line per pod seen for at least two samples."""
        return [
            f"{name}: peak RSS {u.peak_rss_bytes / 2**20:.0f} MiB, "
            f"CPU {u.cpu_cores * 1000:.0f} millicores on average over "
            f"{u.last_seen - u.first_seen:.0f} s"
            for name, u in sorted(self.pods.items())
            if u.last_seen > u.first_seen
        ]
