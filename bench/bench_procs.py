"""Thin I/O helpers of the benchmarks: /proc readings, a lag sampler, the machine description."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_stats

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 when it is gone)."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    return bench_stats.parse_proc_cpu_ticks(line) / CLOCK_TICKS


def status_kib(pid: int, key: str) -> int | None:
    """``VmRSS``/``VmHWM`` of a running process in KiB, None when it is gone."""
    try:
        return bench_stats.parse_proc_status_kib(Path(f"/proc/{pid}/status").read_text(), key)
    except OSError:
        return None


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class LagSampler:
    """Samples ``pg_stat_replication`` flush lag (bytes) of one application every 100 ms."""

    conninfo: str
    application_name: str
    interval: float = 0.1
    samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LagSampler:
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        import psycopg

        query = (
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint "
            "FROM pg_stat_replication WHERE application_name = %s"
        )
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not self._stop.is_set():
                started = time.monotonic()
                row = conn.execute(query, (self.application_name,)).fetchone()
                if row is not None and row[0] is not None:
                    self.samples.append(int(row[0]))
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


def machine() -> dict[str, Any]:
    """Date, CPU model, core count, memory and kernel of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = None
    with contextlib.suppress(OSError):
        mem_kib = bench_stats.parse_proc_status_kib(Path("/proc/meminfo").read_text(), "MemTotal")
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
