"""The receiver under pgbench load, next to its anchors, on a real PostgreSQL 15.

One primary (fsync on, 16 MiB segments, TLS + certificate auth) runs pgbench TPC-B-like
while one configuration is attached, repeated and interleaved (the order rotates every
repeat) so a noisy neighbour hurts every configuration alike:

    none              nothing attached
    receiver-async    `cnpg-wal-replica receive`, not listed as synchronous
    receiver-sync     the same receiver as THE synchronous standby
    physical-sync     a pg_basebackup -R standby as the synchronous standby (the anchor)
    bare-async        bare `pg_receivewal --synchronous` (the receiver's child, unsupervised)
    bare-async-lazy   bare `pg_receivewal` without --synchronous (flushes at segment end)

Each streaming client connects as streaming_replica over TLS (verify-full), like the
receiver does. Flush lag is sampled from pg_stat_replication every 100 ms; CPU from /proc.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench_attach
import bench_procs
import bench_stats
from support import localreceiver

from cnpg_wal_replica import localpg

CONFIGS = (
    "none",
    "receiver-async",
    "receiver-sync",
    "physical-sync",
    "bare-async",
    "bare-async-lazy",
)
SYNCHRONOUS = {"receiver-sync", "physical-sync"}


@dataclass(frozen=True)
class Params:
    scale: int = 10
    clients: int = 4
    duration: int = 20
    repeats: int = 3


def pgbench(primary: localpg.LocalPostgres, *args: str) -> str:
    argv = [
        str(primary.bindir / "pgbench"),
        "-h",
        str(primary.socket_dir),
        "-p",
        str(primary.port),
        "-U",
        localpg.SUPERUSER,
        *args,
        "postgres",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench {' '.join(args)} failed: {done.stderr.strip()[-800:]}")
    return done.stdout + done.stderr


def _streaming(primary: localpg.LocalPostgres, app: str) -> bool:
    rows = primary.sql("SELECT state FROM pg_stat_replication WHERE application_name = %s", (app,))
    return bool(rows) and rows[0][0] == "streaming"


def _position(primary: localpg.LocalPostgres, app: str, column: str) -> int:
    """``sent_lsn`` or ``flush_lsn`` of ``app`` as the primary sees it (0 when unknown)."""
    from cnpg_wal_replica.archive.names import parse_lsn

    rows = primary.sql(
        f"SELECT {column}::text FROM pg_stat_replication WHERE application_name = %s", (app,)
    )
    return parse_lsn(rows[0][0]) if rows and rows[0][0] else 0


def _prepare_tables(primary: localpg.LocalPostgres) -> None:
    """What pgbench does before a run (we pass -n so it stays out of the window), then a
    checkpoint so no run starts with another's dirty buffers."""
    primary.sql("VACUUM pgbench_branches")
    primary.sql("VACUUM pgbench_tellers")
    primary.sql("TRUNCATE pgbench_history")
    primary.sql("CHECKPOINT")


def run_once(
    primary: localpg.LocalPostgres, config: str, params: Params, workdir: Path
) -> dict[str, Any]:
    """Attach ``config``, run pgbench once, measure; always detach again."""
    component = bench_attach.make_component(config, primary, workdir)
    app = component.application_name
    try:
        # Checkpoint first: a new physical slot reserves WAL from the last checkpoint's redo
        # point, and the run must not start with a catch-up of the previous run's WAL.
        _prepare_tables(primary)
        component.start()
        if app is not None:
            localreceiver.wait_until(lambda: _streaming(primary, app), 120, f"{app} streaming")
            target = primary.current_lsn()
            column = "sent_lsn" if config == "bare-async-lazy" else "flush_lsn"
            localreceiver.wait_until(
                lambda: _position(primary, app, column) >= target, 120, f"{app} caught up"
            )
        if config in SYNCHRONOUS:
            primary.set_config(synchronous_standby_names=f'"{app}"')
        time.sleep(0.5)
        pids = component.pids()
        cpu_before = {role: bench_procs.cpu_seconds(pid) for role, pid in pids.items()}
        lsn_before = primary.current_lsn()
        sampler = bench_procs.LagSampler(primary.superuser_conninfo(), app or "-")
        with sampler:
            output = pgbench(
                primary,
                "-n",
                "-c",
                str(params.clients),
                "-j",
                str(min(params.clients, 2)),
                "-T",
                str(params.duration),
            )
        wal_bytes = primary.current_lsn() - lsn_before
        after = component.pids()
        cpu = {
            role: round(bench_procs.cpu_seconds(pid) - cpu_before[role], 3)
            for role, pid in pids.items()
        }
        peak_rss = {role: bench_procs.status_kib(pid, "VmHWM") for role, pid in pids.items()}
        restarted = after != pids
    finally:
        if config in SYNCHRONOUS:
            primary.set_config(synchronous_standby_names="")
        component.stop()
    return {
        "config": config,
        "tps": round(bench_stats.parse_pgbench_tps(output), 1),
        "wal_bytes": wal_bytes,
        "lag_samples": sampler.samples,
        "cpu_seconds": cpu,
        "peak_rss_kib": peak_rss,
        "child_restarted": restarted,
    }


def measure(params: Params, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Set up the primary, run every configuration ``params.repeats`` times, summarise."""
    with localpg.local_postgres(
        wal_segsize_mb=16,
        fast=False,
        settings={"max_wal_size": "1GB", "checkpoint_timeout": "30min", "shared_buffers": "256MB"},
    ) as primary:
        workdir = primary.root / "bench"
        workdir.mkdir()
        started = time.monotonic()
        pgbench(primary, "-i", "-q", "-s", str(params.scale))
        log(f"  pgbench -i -s {params.scale}: {time.monotonic() - started:.1f} s")
        runs: list[dict[str, Any]] = []
        for repeat in range(params.repeats):
            shift = repeat % len(CONFIGS)
            for config in CONFIGS[shift:] + CONFIGS[:shift]:
                run = run_once(primary, config, params, workdir)
                run["repeat"] = repeat
                runs.append(run)
                lag = run["lag_samples"]
                log(
                    f"  repeat {repeat + 1}/{params.repeats} {config:<16} "
                    f"{run['tps']:>8.1f} tps  WAL {run['wal_bytes'] / bench_stats.MIB:7.1f} MiB"
                    + (f"  lag median {bench_stats.median(lag) / 1024:.0f} KiB" if lag else "")
                )
    return summarize(runs, params)


def _config_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    samples = [s for run in runs for s in run["lag_samples"]]
    roles = sorted({role for run in runs for role in run["cpu_seconds"]})
    cpu_per_100mib: dict[str, float | None] = {}
    for role in roles:
        values = [
            bench_stats.cpu_per_100mib(run["cpu_seconds"][role], run["wal_bytes"]) for run in runs
        ]
        present = [v for v in values if v is not None]
        cpu_per_100mib[role] = round(bench_stats.median(present), 4) if present else None
    peaks = [
        sum(v for v in run["peak_rss_kib"].values() if v is not None)
        for run in runs
        if run["peak_rss_kib"]
    ]
    return {
        "runs": len(runs),
        "tps_median": round(bench_stats.median([run["tps"] for run in runs]), 1),
        "tps_runs": [run["tps"] for run in runs],
        "wal_mib_per_run_median": round(
            bench_stats.median([run["wal_bytes"] for run in runs]) / bench_stats.MIB, 1
        ),
        "flush_lag_bytes_median": round(bench_stats.median(samples)) if samples else None,
        "flush_lag_bytes_max": max(samples) if samples else None,
        "lag_samples": len(samples),
        "cpu_seconds_per_100mib": cpu_per_100mib,
        "peak_rss_mib": round(max(peaks) / 1024, 1) if peaks else None,
        "child_restarted": any(run["child_restarted"] for run in runs),
    }


def _run_record(run: dict[str, Any]) -> dict[str, Any]:
    """One run for latest.json: lag samples reduced to their median and max."""
    record = {k: v for k, v in run.items() if k != "lag_samples"}
    samples = run["lag_samples"]
    record["lag_median_bytes"] = round(bench_stats.median(samples)) if samples else None
    record["lag_max_bytes"] = max(samples) if samples else None
    return record


def summarize(runs: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """Per-configuration medians, the ratios of the issue, and the supervisor overhead."""
    configs = {
        config: _config_summary([r for r in runs if r["config"] == config])
        for config in CONFIGS
        if any(r["config"] == config for r in runs)
    }

    def tps(name: str) -> float | None:
        return configs[name]["tps_median"] if name in configs else None

    def by_repeat(name: str) -> dict[int, float]:
        return {r["repeat"]: r["tps"] for r in runs if r["config"] == name}

    def cpu(name: str, role: str) -> float | None:
        value = configs.get(name, {}).get("cpu_seconds_per_100mib", {}).get(role)
        return None if value is None else float(value)

    ours_super = cpu("receiver-async", "supervisor")
    ours_child = cpu("receiver-async", "pg_receivewal")
    ours_total = (ours_super or 0) + (ours_child or 0) if ours_child is not None else None
    return {
        "params": {
            "scale": params.scale,
            "clients": params.clients,
            "duration_s": params.duration,
            "repeats": params.repeats,
            "wal_segment_mib": 16,
            "fsync": True,
        },
        "configs": configs,
        "ratios": {
            "receiver_sync_over_physical_sync": bench_stats.ratio(
                tps("receiver-sync"), tps("physical-sync")
            ),
            "receiver_async_over_none": bench_stats.ratio(tps("receiver-async"), tps("none")),
            "physical_sync_over_none": bench_stats.ratio(tps("physical-sync"), tps("none")),
            "receiver_sync_over_none": bench_stats.ratio(tps("receiver-sync"), tps("none")),
        },
        "paired_ratios": {
            "receiver_sync_over_physical_sync": bench_stats.paired_ratio(
                by_repeat("receiver-sync"), by_repeat("physical-sync")
            ),
            "receiver_async_over_none": bench_stats.paired_ratio(
                by_repeat("receiver-async"), by_repeat("none")
            ),
        },
        "supervisor": {
            "supervisor_cpu_percent_of_pg_receivewal": (
                round(ours_super / ours_child * 100, 1) if ours_super and ours_child else None
            ),
            "receiver_cpu_over_bare_percent": bench_stats.overhead_percent(
                ours_total, cpu("bare-async", "pg_receivewal")
            ),
        },
        "runs": [_run_record(run) for run in runs],
    }
