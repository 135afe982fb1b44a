"""Pure: the benchmark results (a dict, as saved to latest.json) rendered as Markdown."""

from __future__ import annotations

from typing import Any

from bench_stats import aim_verdict, fmt, markdown_table

RECEIVER_LABELS = {
    "none": "no receiver",
    "receiver-async": "receiver, asynchronous",
    "receiver-sync": "receiver, synchronous standby",
    "physical-sync": "physical standby, synchronous (anchor)",
    "bare-async": "bare pg_receivewal --synchronous, asynchronous",
    "bare-async-lazy": "bare pg_receivewal (no --synchronous), asynchronous",
}


def header(results: dict[str, Any]) -> str:
    m = results["machine"]
    mode = "quick" if results.get("quick") else "full"
    return (
        f"# Benchmarks ({mode} run, {m['date']})\n\n"
        f"Machine: {m['nproc']} cores of {m['cpu_model']}, {m['memory_gib']} GiB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}; load average at start "
        f"{', '.join(str(x) for x in m['load_average_at_start'])}. "
        f"Reproduce with `make bench` (`--quick` for a smoke run)."
    )


def _floor_rows(p: dict[str, Any], n: int) -> list[list[object]]:
    """The do-nothing gRPC server under the same load, and our ratio to it (if measured)."""
    floor = p.get("floor")
    if not floor:
        return []
    rows: list[list[object]] = []
    for hook in ("post", "pre"):
        name = hook.capitalize()
        ratio = p[hook]["p99_ms"] / floor[hook]["p99_ms"] if floor[hook]["p99_ms"] else None
        rows.append(
            [
                f"{name} p50 / p99, {n} clients, do-nothing gRPC server (anchor, ms)",
                f"{floor[hook]['p50_ms']:.2f} / {floor[hook]['p99_ms']:.2f}",
                "",
                "",
            ]
        )
        rows.append([f"{name} p99, plugin / do-nothing server", fmt(ratio), "", ""])
    return rows


def plugin_section(p: dict[str, Any]) -> str:
    reads = p["requests_per_post"]["reads"]
    writes = p["requests_per_post"]["writes"]
    go = p["go_plugin_per_post"]
    n = p["clients"]
    rows: list[list[object]] = [
        [
            f"Post p50 / p99, {n} clients (ms)",
            f"{p['post']['p50_ms']:.2f} / {p['post']['p99_ms']:.2f}",
            "p99 ≤ 10",
            aim_verdict(p["post"]["p99_ms"], 10),
        ],
        [
            f"Pre p50 / p99, {n} clients (ms)",
            f"{p['pre']['p50_ms']:.2f} / {p['pre']['p99_ms']:.2f}",
            "p99 ≤ 2",
            aim_verdict(p["pre"]["p99_ms"], 2),
        ],
        *_floor_rows(p, n),
        [
            "Post p50 / p99, 1 client (ms)",
            f"{p['post_one_client']['p50_ms']:.2f} / {p['post_one_client']['p99_ms']:.2f}",
            "",
            "",
        ],
        [
            "Pre p50 / p99, 1 client (ms)",
            f"{p['pre_one_client']['p50_ms']:.2f} / {p['pre_one_client']['p99_ms']:.2f}",
            "",
            "",
        ],
        [
            "server CPU per Post / Pre (ms)",
            f"{p['server_cpu_ms_per_post']:.2f} / {p['server_cpu_ms_per_pre']:.2f}",
            "",
            "",
        ],
        [
            "API reads per steady-state Post",
            f"{reads:g} (Go plugin: {go['reads']})",
            "as few as possible",
            "",
        ],
        [
            "API writes per steady-state Post",
            f"{writes:g} (Go plugin: {go['writes']})",
            "0",
            aim_verdict(writes, 0),
        ],
        [
            "process start → first Probe (s)",
            p["start_to_first_probe_s"],
            "≤ 2",
            aim_verdict(p["start_to_first_probe_s"], 2),
        ],
        [
            "server RSS after the run (MiB)",
            p["server_rss_mib"],
            "≤ 80",
            aim_verdict(p["server_rss_mib"], 80),
        ],
    ]
    table = markdown_table(["plugin server", "measured", "aim", ""], rows)
    calls = p["post"]["calls"]
    return (
        "## Plugin server (real kube-apiserver, mTLS, "
        f"{p['cluster_json_kib']} KiB Cluster JSON, {calls} calls per hook)\n\n{table}"
    )


def _kib(value: float | None) -> float | None:
    return None if value is None else round(value / 1024, 1)


def receiver_section(r: dict[str, Any]) -> str:
    params = r["params"]
    none_tps = r["configs"].get("none", {}).get("tps_median")
    rows = []
    for name, c in r["configs"].items():
        cpu = c["cpu_seconds_per_100mib"]
        if "supervisor" in cpu:
            cpu_text = (
                f"{fmt(cpu.get('supervisor'), 3)} + {fmt(cpu.get('pg_receivewal'), 3)}"
                " (supervisor + child)"
            )
        elif cpu:
            cpu_text = fmt(cpu.get("pg_receivewal"), 3)
        else:
            cpu_text = "—"
        rows.append(
            [
                RECEIVER_LABELS.get(name, name),
                c["tps_median"],
                None if not none_tps else round(c["tps_median"] / none_tps, 3),
                _kib(c["flush_lag_bytes_median"]),
                _kib(c["flush_lag_bytes_max"]),
                cpu_text,
                c["peak_rss_mib"],
            ]
        )
    table = markdown_table(
        [
            "configuration",
            "TPS (median)",
            "vs none",
            "flush lag median (KiB)",
            "flush lag max (KiB)",
            "CPU s / 100 MiB WAL",
            "peak RSS (MiB)",
        ],
        rows,
    )
    ratios = r["ratios"]
    paired = r["paired_ratios"]
    sup = r["supervisor"]
    aims = markdown_table(
        ["ratio", "measured", "aim", ""],
        [
            [
                "receiver-sync TPS / physical-sync TPS",
                ratios["receiver_sync_over_physical_sync"],
                "≥ 0.95",
                aim_verdict(ratios["receiver_sync_over_physical_sync"], 0.95, at_least=True),
            ],
            [
                "same, median of per-repeat ratios",
                paired["receiver_sync_over_physical_sync"],
                "≥ 0.95",
                aim_verdict(paired["receiver_sync_over_physical_sync"], 0.95, at_least=True),
            ],
            ["receiver-async TPS / none TPS", ratios["receiver_async_over_none"], "", ""],
            ["same, median of per-repeat ratios", paired["receiver_async_over_none"], "", ""],
            ["physical-sync TPS / none TPS", ratios["physical_sync_over_none"], "", ""],
            [
                "supervisor CPU, % of its pg_receivewal's",
                sup["supervisor_cpu_percent_of_pg_receivewal"],
                "< 5",
                aim_verdict(sup["supervisor_cpu_percent_of_pg_receivewal"], 5),
            ],
            [
                "receiver CPU / 100 MiB vs bare pg_receivewal (%)",
                sup["receiver_cpu_over_bare_percent"],
                "",
                "",
            ],
        ],
    )
    restarted = [n for n, c in r["configs"].items() if c.get("child_restarted")]
    note = (
        f"\n\nWarning: pg_receivewal restarted during {', '.join(restarted)}." if restarted else ""
    )
    return (
        "## Receiver (PostgreSQL 15, pgbench TPC-B-like, "
        f"scale {params['scale']}, {params['clients']} clients, {params['duration_s']} s, "
        f"{params['repeats']} interleaved repeats, fsync on, "
        f"{params['wal_segment_mib']} MiB segments, TLS cert auth)\n\n"
        f"{table}\n\n{aims}{note}"
    )


def verify_section(rows: list[dict[str, Any]]) -> str:
    table = markdown_table(
        ["archive", "segments", "list (s)", "verify (s)", "segments / s"],
        [[r["case"], r["segments"], r["list_s"], r["verify_s"], r["segments_per_s"]] for r in rows],
    )
    return f"## verify\n\n{table}"


def replay_section(r: dict[str, Any]) -> str:
    from bench_replay import render as render_replay

    return render_replay(r)


def render(results: dict[str, Any]) -> str:
    """The whole Markdown report; a failed section shows its error."""
    parts = [header(results)]
    sections = (
        ("plugin", plugin_section),
        ("receiver", receiver_section),
        ("replay", replay_section),
        ("verify", verify_section),
    )
    for key, renderer in sections:
        value = results.get(key)
        if value is None:
            continue
        if isinstance(value, dict) and "error" in value:
            parts.append(f"## {key}\n\nNot measured: {value['error']}")
        else:
            parts.append(renderer(value))
    return "\n\n".join(parts) + "\n"
