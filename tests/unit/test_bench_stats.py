"""The pure helpers behind the benchmark tables (bench/bench_stats.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_stats as bs


def test_median_odd_even_and_empty():
    assert bs.median([3, 1, 2]) == 2
    assert bs.median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError, match="no values"):
        bs.median([])


def test_percentile_interpolates_like_numpy():
    values = list(range(1, 101))  # 1..100
    assert bs.percentile(values, 50) == pytest.approx(50.5)
    assert bs.percentile(values, 99) == pytest.approx(99.01)
    assert bs.percentile(values, 0) == 1
    assert bs.percentile(values, 100) == 100
    assert bs.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="outside"):
        bs.percentile(values, 101)


def test_latency_summary_in_milliseconds():
    summary = bs.latency_summary([0.001] * 99 + [0.101])
    assert summary["calls"] == 100
    assert summary["p50_ms"] == pytest.approx(1.0)
    assert summary["p99_ms"] == pytest.approx(2.0)  # 99th between 1 ms and the 101 ms outlier
    assert summary["max_ms"] == pytest.approx(101.0)


def test_ratio_and_overhead():
    assert bs.ratio(950, 1000) == 0.95
    assert bs.ratio(None, 1000) is None
    assert bs.ratio(1, 0) is None
    assert bs.overhead_percent(1.03, 1.0) == 3.0
    assert bs.overhead_percent(0.9, 1.0) == -10.0
    assert bs.overhead_percent(1.0, 0) is None


def test_paired_ratio_is_the_median_of_per_repeat_ratios():
    ours = {0: 90.0, 1: 200.0, 2: 50.0}
    anchor = {0: 100.0, 1: 200.0, 2: 100.0, 3: 80.0}
    assert bs.paired_ratio(ours, anchor) == 0.9  # median of 0.9, 1.0, 0.5
    assert bs.paired_ratio({0: 1.0}, {1: 1.0}) is None
    assert bs.paired_ratio({0: 1.0}, {0: 0.0}) is None


def test_cpu_per_100mib():
    assert bs.cpu_per_100mib(2.0, 200 * bs.MIB) == 1.0
    assert bs.cpu_per_100mib(2.0, 0) is None


def test_parse_pgbench_tps_prefers_the_figure_without_connection_time():
    output = (
        "latency average = 3.2 ms\n"
        "initial connection time = 5.1 ms\n"
        "tps = 1234.567890 (without initial connection time)\n"
    )
    assert bs.parse_pgbench_tps(output) == pytest.approx(1234.56789)
    assert bs.parse_pgbench_tps("tps = 99.5 (including connections establishing)\n") == 99.5
    with pytest.raises(ValueError, match="tps"):
        bs.parse_pgbench_tps("connection refused")


def test_parse_proc_stat_with_awkward_command_name():
    fields = ["S"] + ["0"] * 10 + ["150", "50"] + ["0"] * 30
    line = "1234 (my (odd) prog) " + " ".join(fields)
    assert bs.parse_proc_cpu_ticks(line) == 200


def test_parse_proc_status():
    text = "Name:\tpython\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n"
    assert bs.parse_proc_status_kib(text, "VmRSS") == 40000
    assert bs.parse_proc_status_kib(text, "VmHWM") == 51234
    assert bs.parse_proc_status_kib(text, "VmSwap") is None


def sample(verb: str, resource: str, value: int, code: str = "200", group: str = "") -> str:
    labels = (
        f'code="{code}",component="apiserver",dry_run="",group="{group}",'
        f'resource="{resource}",scope="resource",subresource="",verb="{verb}",version="v1"'
    )
    return f"apiserver_request_total{{{labels}}} {value}"


METRICS_BEFORE = "\n".join(
    [
        "# HELP apiserver_request_total Counter of apiserver requests",
        "# TYPE apiserver_request_total counter",
        sample("GET", "deployments", 10, group="apps"),
        sample("GET", "deployments", 1, code="404", group="apps"),
        sample("GET", "persistentvolumeclaims", 10),
        sample("LIST", "pods", 7),
        'apiserver_request_total_other{verb="GET",resource="deployments"} 99',
    ]
)
METRICS_AFTER = "\n".join(
    [
        sample("GET", "deployments", 110, group="apps"),
        sample("GET", "deployments", 1, code="404", group="apps"),
        sample("GET", "persistentvolumeclaims", 110),
        sample("POST", "events", 3, code="201"),
        sample("LIST", "pods", 70),
    ]
)


def test_request_counts_and_delta_split_reads_from_writes():
    resources = ("deployments", "persistentvolumeclaims", "events")
    before = bs.request_counts(METRICS_BEFORE, resources)
    after = bs.request_counts(METRICS_AFTER, resources)
    assert before[("GET", "deployments")] == 11  # summed over response codes
    assert ("LIST", "pods") not in before  # not a resource we asked for
    delta = bs.request_delta(before, after)
    assert delta["reads"] == 200
    assert delta["writes"] == 3
    assert delta["GET deployments"] == 100
    assert delta["POST events"] == 3


def test_markdown_table_formats_cells():
    table = bs.markdown_table(["what", "n", "x"], [["a", 1234, 1.5], ["b", None, True]])
    assert table.splitlines() == [
        "| what | n | x |",
        "|:---|---:|---:|",
        "| a | 1,234 | 1.50 |",
        "| b | — | yes |",
    ]


def test_aim_verdict():
    assert bs.aim_verdict(9.0, 10) == "met"
    assert bs.aim_verdict(11.0, 10) == "missed"
    assert bs.aim_verdict(0.96, 0.95, at_least=True) == "met"
    assert bs.aim_verdict(None, 1) == "not measured"


def _run(config: str, repeat: int, tps: float, **extra: object) -> dict[str, object]:
    run: dict[str, object] = {
        "config": config,
        "repeat": repeat,
        "tps": tps,
        "wal_bytes": 100 * bs.MIB,
        "lag_samples": [],
        "cpu_seconds": {},
        "peak_rss_kib": {},
        "child_restarted": False,
    }
    run.update(extra)
    return run


def _receiver_runs() -> list[dict[str, object]]:
    runs = []
    for repeat, factor in enumerate((1.0, 0.5, 1.0)):  # repeat 1 ran on a busy machine
        runs += [
            _run("none", repeat, 1000 * factor),
            _run(
                "receiver-async",
                repeat,
                950 * factor,
                lag_samples=[1000, 3000, 2000],
                cpu_seconds={"supervisor": 0.04, "pg_receivewal": 1.0},
                peak_rss_kib={"supervisor": 60 * 1024, "pg_receivewal": 12 * 1024},
            ),
            _run("receiver-sync", repeat, 400 * factor),
            _run("physical-sync", repeat, 500 * factor),
            _run(
                "bare-async",
                repeat,
                960 * factor,
                cpu_seconds={"pg_receivewal": 0.8},
                peak_rss_kib={"pg_receivewal": 12 * 1024},
            ),
        ]
    return runs


def test_receiver_summary_ratios_and_overheads():
    import bench_receiver

    summary = bench_receiver.summarize(_receiver_runs(), bench_receiver.Params())
    configs = summary["configs"]
    assert configs["none"]["tps_median"] == 1000
    assert configs["receiver-async"]["flush_lag_bytes_median"] == 2000
    assert configs["receiver-async"]["flush_lag_bytes_max"] == 3000
    assert configs["receiver-async"]["cpu_seconds_per_100mib"] == {
        "pg_receivewal": 1.0,
        "supervisor": 0.04,
    }
    assert configs["receiver-async"]["peak_rss_mib"] == 72.0
    assert summary["ratios"]["receiver_sync_over_physical_sync"] == 0.8
    assert summary["paired_ratios"]["receiver_sync_over_physical_sync"] == 0.8
    assert summary["ratios"]["receiver_async_over_none"] == 0.95
    assert summary["supervisor"]["supervisor_cpu_percent_of_pg_receivewal"] == 4.0
    assert summary["supervisor"]["receiver_cpu_over_bare_percent"] == 30.0  # 1.04 vs 0.8
    assert all("lag_samples" not in run for run in summary["runs"])
    assert summary["runs"][1]["lag_max_bytes"] == 3000
    assert summary["runs"][0]["lag_median_bytes"] is None


def test_report_renders_every_section_and_failures():
    import bench_receiver
    import bench_report

    results = {
        "machine": {
            "date": "2026-11-26 05:00 UTC",
            "nproc": 2,
            "cpu_model": "AMD EPYC",
            "memory_gib": 23.5,
            "kernel": "6.1",
            "python": "3.11.7",
            "load_average_at_start": [1.0, 1.0, 1.0],
        },
        "quick": False,
        "plugin": {"error": "HarnessMissing: run scripts/kube-harness build"},
        "receiver": bench_receiver.summarize(_receiver_runs(), bench_receiver.Params()),
        "verify": [
            {
                "case": "plain 1 MiB",
                "segments": 2000,
                "list_s": 0.01,
                "verify_s": 0.05,
                "segments_per_s": 33000,
            },
        ],
    }
    text = bench_report.render(results)
    assert "2 cores of AMD EPYC" in text
    assert "Not measured: HarnessMissing" in text
    assert "| receiver-sync TPS / physical-sync TPS | 0.80 | ≥ 0.95 | missed |" in text
    assert "| supervisor CPU, % of its pg_receivewal's | 4.00 | < 5 | met |" in text
    assert "| plain 1 MiB | 2,000 | 0.01 | 0.05 | 33,000 |" in text


def test_plugin_section_compares_with_the_go_plugin_and_the_aims():
    import bench_report

    latency = {"calls": 2000, "p50_ms": 1.0, "p99_ms": 3.0, "mean_ms": 1.2, "max_ms": 9.0}
    text = bench_report.plugin_section(
        {
            "clients": 10,
            "cluster_json_kib": 50.0,
            "post": {**latency, "p99_ms": 8.0},
            "pre": latency,
            "post_one_client": latency,
            "pre_one_client": latency,
            "server_cpu_ms_per_post": 4.0,
            "server_cpu_ms_per_pre": 1.0,
            "requests_per_post": {"reads": 2.0, "writes": 0.0},
            "go_plugin_per_post": {"reads": 2, "writes": 1},
            "start_to_first_probe_s": 0.6,
            "server_rss_mib": 81.7,
        }
    )
    assert "| Post p50 / p99, 10 clients (ms) | 1.00 / 8.00 | p99 ≤ 10 | met |" in text
    assert "| Pre p50 / p99, 10 clients (ms) | 1.00 / 3.00 | p99 ≤ 2 | missed |" in text
    assert "| API writes per steady-state Post | 0 (Go plugin: 1) | 0 | met |" in text
    assert "| server RSS after the run (MiB) | 81.70 | ≤ 80 | missed |" in text


def test_replay_section_shows_each_recovery_and_the_aim():
    import bench_replay

    def config(seconds: list[float], rate: float, ratio: float, steady: float, sratio: float):
        return {
            "seconds": seconds,
            "mib_per_s": rate,
            "ratio_to_local": ratio,
            "sustained_mib_per_s": steady,
            "sustained_ratio_to_local": sratio,
        }

    result = {
        "params": {"scale": 20, "repeats": 3, "wal_mib": 412.5},
        "configs": {
            "local": config([2.0, 2.1, 1.9], 206.2, 1.0, 300.0, 1.0),
            "sidecar": config([2.4, 2.5, 2.3], 171.9, 0.72, 252.0, 0.84),
            "sidecar-no-prefetch": config([4.0, 4.1, 3.9], 103.1, 0.5, 150.0, 0.5),
        },
    }
    text = bench_replay.render(result)
    assert "replaying 412.5 MiB of WAL (pgbench -i -s 20, 16 MiB segments)" in text
    row = (
        "| through CNPG-I, the sidecar and the receiver (prefetch 4) "
        "| 252.00 | 0.84 | 171.90 | 0.72 |"
    )
    assert row in text
    assert "Aim: sustained replay through the sidecar ≥ 0.8 of the limit: **met**." in text
    result["configs"]["sidecar"]["sustained_ratio_to_local"] = 0.7
    assert "**missed**" in bench_replay.render(result)
    del result["configs"]["sidecar"]["sustained_ratio_to_local"]
    assert "**not measured**" in bench_replay.render(result)


RECOVERY_LOG = """\
2026-12-04 04:10:00.100 UTC [311] LOG:  starting archive recovery
2026-12-04 04:10:00.250 UTC [311] LOG:  restored log file "000000010000000000000002" from archive
2026-12-04 04:10:00.300 UTC [311] LOG:  redo starts at 0/2000028
2026-12-04 04:10:00.310 UTC [311] LOG:  restored log file "00000001.history" from archive
2026-12-04 04:10:00.350 UTC [311] LOG:  restored log file "000000010000000000000003" from archive
2026-12-04 04:10:01.750 UTC [311] LOG:  restored log file "000000010000000000000004" from archive
2026-12-04 04:10:02.000 UTC [311] LOG:  selected new timeline ID: 2
"""


def test_sustained_replay_spans_the_first_to_the_last_restored_segment():
    assert bs.sustained_replay(RECOVERY_LOG) == (2, 1.5)  # history files are not segments


def test_sustained_replay_needs_two_segments():
    one = "\n".join(line for line in RECOVERY_LOG.splitlines() if "0000000004" not in line)
    assert bs.sustained_replay(one.replace("000000010000000000000003", "x")) is None
    assert bs.sustained_replay("") is None
