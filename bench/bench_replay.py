"""Replay speed through the sidecar against the physical limit, side by side.

One primary (16 MiB segments) streams to the receiver, its WAL server on. A base backup that
holds no WAL is taken, pgbench writes WAL, and the receiver's complete segments are copied
to a local directory. Each repeat then recovers copies of the same backup, in an order that
rotates every repeat, with:

    local               restore_command = cp <directory>/%f %p          (the limit)
    sidecar             cnpgi-wal-restore → sidecar → receiver, prefetch 4 (as shipped)
    sidecar-no-prefetch the same with --prefetch=0                       (what prefetch buys)

and times it two ways, each paired with the limit within a repeat: sustained, the segments
between the first and the last one PostgreSQL logs as restored over the seconds between
those lines (the aim's measure), and start to promotion (WAL bytes after the backup's start
over the seconds from the server's start to the end of recovery). One unmeasured round
first warms the page cache for every configuration (without it the first run, always
`local`, was up to twice as slow).

The default, pgbench scale 100, replays ~1.2 GiB: sustained replay, as in a real recovery.
A recovery also pays fixed costs that a short one cannot amortise: each restore that finds
nothing costs CNPG's client 100 ms (it sleeps after a failure), and each restore command
is a process of its own (about 10 ms through CNPG-I, 2 ms for `cp`).

    PYTHONPATH=tests:bench uv run --frozen python bench/bench_replay.py [--scale 100] [--repeats 4]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_procs
import bench_stats
from support import harnesspaths, localreceiver
from support.localsidecar import (
    Sidecar,
    base_backup,
    cluster_definition,
    give_to_postgres,
    restoring_server,
    through_sidecar,
    wait_promoted,
)
from support.walpki import WalPki

from cnpg_wal_replica import localpg
from cnpg_wal_replica.archive.names import parse_lsn

CONFIGS = ("local", "sidecar", "sidecar-no-prefetch")
APP = "bench_replay_receiver"
AIM = 0.8
"""Replay through the sidecar: at least this share of the local-copy limit (issue 14)."""
SEGMENT_MIB = 16
DEFAULT_SCALE = 100
DEFAULT_REPEATS = 4


def _receiver(primary: localpg.LocalPostgres, root: Path, pki: WalPki) -> tuple[Any, int]:
    port = localpg.free_port()
    env = localreceiver.receiver_env(
        primary,
        root / "wal",
        APP,
        namespace="bench",
        serve_tls_directory=str(pki.server),
        serve_address=f"127.0.0.1:{port}",
    )
    log = (root / "receiver.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnpg_wal_replica", "receive"],
        env={**os.environ, **env},
        stdout=log,
        stderr=log,
    )
    return proc, port


def _flushed(primary: localpg.LocalPostgres) -> int:
    rows = primary.sql(
        "SELECT flush_lsn::text FROM pg_stat_replication WHERE application_name = %s", (APP,)
    )
    return parse_lsn(rows[0][0]) if rows and rows[0][0] else 0


def _pgbench(primary: localpg.LocalPostgres, *args: str) -> None:
    subprocess.run(
        [
            str(primary.bindir / "pgbench"),
            f"--host={primary.socket_dir}",
            f"--port={primary.port}",
            f"--username={localpg.SUPERUSER}",
            *args,
            "postgres",
        ],
        check=True,
        capture_output=True,
    )


def _backup_start(data_dir: Path) -> int:
    for line in (data_dir / "backup_label").read_text().splitlines():
        if line.startswith("START WAL LOCATION:"):
            return parse_lsn(line.split()[3])
    raise RuntimeError("backup_label has no START WAL LOCATION")


def measure(
    scale: int = 20, repeats: int = 3, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the comparison; the results as a dict (see `render`)."""
    root = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    root.chmod(0o711)
    receiver = None
    sidecars: list[Sidecar] = []
    failed = True
    try:
        primary = localpg.create_primary(root / "pg", wal_segsize_mb=SEGMENT_MIB)
        primary.set_config(synchronous_standby_names=APP)
        pki = WalPki(root / "pki")
        receiver, port = _receiver(primary, root, pki)
        localreceiver.wait_until(lambda: _flushed(primary) > 0, 60, "the receiver to stream")
        backup = base_backup(primary, "backup")
        start_lsn = _backup_start(backup)
        log(f"replay: pgbench -i -s {scale} writes the WAL to replay")
        _pgbench(primary, "-i", "-q", f"-s{scale}")
        primary.sql("SELECT pg_switch_wal()")
        end_lsn = primary.current_lsn()
        localreceiver.wait_until(lambda: _flushed(primary) >= end_lsn, 120, "the receiver")
        primary.stop("immediate")  # the receiver keeps serving what it holds
        local = root / "local-archive"
        local.mkdir()
        for segment in (root / "wal").iterdir():
            if len(segment.name) == 24:
                shutil.copy(segment, local / segment.name)
                give_to_postgres(local / segment.name)
        give_to_postgres(local)
        wal_mib = (end_lsn - start_lsn) / 2**20
        binary = root / "cnpgi-wal-restore"
        shutil.copy(harnesspaths.cnpgi_wal_restore(), binary)
        binary.chmod(0o755)
        cluster = root / "cluster.json"
        cluster.write_text(json.dumps(cluster_definition("bench")))
        seconds: dict[str, dict[int, float]] = {c: {} for c in CONFIGS}
        sustained: dict[str, dict[int, float]] = {c: {} for c in CONFIGS}
        cpu: dict[str, dict[str, list[float]]] = {
            c: {"receiver": [], "sidecar": []} for c in CONFIGS
        }
        for repeat in range(-1, repeats):  # -1: the warm-up round, not counted
            order = CONFIGS[repeat % len(CONFIGS) :] + CONFIGS[: repeat % len(CONFIGS)]
            for config in order:
                name = f"{config}-{repeat}"
                data_dir = primary.root / name
                subprocess.run(["cp", "-a", str(backup), str(data_dir)], check=True)
                if config == "local":
                    command = f"cp {local}/%f %p"
                else:
                    extra = ("--prefetch=0",) if config == "sidecar-no-prefetch" else ()
                    sidecar = Sidecar(root, port, pki.reader("bench", name), name, *extra)
                    sidecars.append(sidecar)
                    command = through_sidecar(binary, sidecar, cluster)
                server = restoring_server(primary, data_dir, command, mode="recovery")
                receiver_cpu = bench_procs.cpu_seconds(receiver.pid)
                sidecar_cpu = bench_procs.cpu_seconds(sidecars[-1].proc.pid) if sidecars else 0
                started = time.monotonic()
                server.start()
                wait_promoted(server, timeout=600)
                elapsed = time.monotonic() - started
                if repeat < 0:  # the warm-up round
                    server.stop("immediate")
                    shutil.rmtree(data_dir, ignore_errors=True)
                    log(f"replay: {config}, warm-up: {elapsed:.2f} s (not counted)")
                    continue
                seconds[config][repeat] = elapsed
                replayed = bench_stats.sustained_replay(server.log_file.read_text())
                if replayed is not None:
                    segments, between = replayed
                    sustained[config][repeat] = segments * SEGMENT_MIB / between
                cpu[config]["receiver"].append(bench_procs.cpu_seconds(receiver.pid) - receiver_cpu)
                if config != "local":
                    used = bench_procs.cpu_seconds(sidecars[-1].proc.pid) - sidecar_cpu
                    cpu[config]["sidecar"].append(used)
                    restores = sidecars[-1].events("restored")
                    waits = [float(str(e["seconds"])) for e in restores]
                    log(
                        f"replay: {config}: {len(restores)} restores, "
                        f"{sum(e.get('source') == 'spool' for e in restores)} from the spool, "
                        f"median {bench_stats.median(waits) * 1000:.0f} ms, "
                        f"max {max(waits) * 1000:.0f} ms in the sidecar"
                    )
                server.stop("immediate")
                shutil.rmtree(data_dir, ignore_errors=True)
                log(
                    f"replay: {config}, repeat {repeat + 1}: {wal_mib:.0f} MiB in "
                    f"{seconds[config][repeat]:.2f} s"
                )
        failed = False
        rates = {c: {r: wal_mib / s for r, s in seconds[c].items()} for c in CONFIGS}
        steady = sustained
        return {
            "params": {"scale": scale, "repeats": repeats, "wal_mib": round(wal_mib, 1)},
            "configs": {
                c: {
                    "seconds": [round(seconds[c][r], 3) for r in sorted(seconds[c])],
                    "mib_per_s": round(bench_stats.median(list(rates[c].values())), 1),
                    "ratio_to_local": bench_stats.paired_ratio(rates[c], rates["local"]),
                    "sustained_mib_per_s": _median_or_none(steady[c]),
                    "sustained_ratio_to_local": bench_stats.paired_ratio(
                        steady[c], steady["local"]
                    ),
                    "receiver_cpu_s_per_100mib": _per_100mib(cpu[c]["receiver"], wal_mib),
                    "sidecar_cpu_s_per_100mib": _per_100mib(cpu[c]["sidecar"], wal_mib),
                }
                for c in CONFIGS
            },
        }
    finally:
        for sidecar in sidecars:
            if sidecar.proc.poll() is None:
                sidecar.proc.kill()
                sidecar.proc.wait()
        if receiver is not None:
            receiver.kill()
            receiver.wait()
        localpg.stop_all(root / "pg")
        if failed:
            log(f"replay: failed; logs and data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def _median_or_none(values: dict[int, float]) -> float | None:
    return round(bench_stats.median(list(values.values())), 1) if values else None


def _per_100mib(samples: list[float], wal_mib: float) -> float | None:
    return round(bench_stats.median(samples) / wal_mib * 100, 3) if samples else None


def render(result: dict[str, Any]) -> str:
    """The section of the Markdown report."""
    p = result["params"]
    labels = {
        "local": "restore_command copies from a local directory (the limit)",
        "sidecar": "through CNPG-I, the sidecar and the receiver (prefetch 4)",
        "sidecar-no-prefetch": "the same without prefetch",
    }
    rows = [
        [
            labels[c],
            v.get("sustained_mib_per_s"),
            v.get("sustained_ratio_to_local"),
            v["mib_per_s"],
            v["ratio_to_local"],
            v.get("receiver_cpu_s_per_100mib"),
            v.get("sidecar_cpu_s_per_100mib"),
            ", ".join(map(str, v["seconds"])),
        ]
        for c, v in result["configs"].items()
    ]
    table = bench_stats.markdown_table(
        [
            "recovery",
            "MiB/s replayed, sustained",
            "÷ limit (paired median)",
            "MiB/s start to promotion",
            "÷ limit",
            "receiver CPU s / 100 MiB",
            "sidecar CPU s / 100 MiB",
            "seconds per repeat",
        ],
        rows,
    )
    ours = result["configs"]["sidecar"].get("sustained_ratio_to_local")
    verdict = bench_stats.aim_verdict(ours, AIM, at_least=True)
    return (
        f"## replay\n\nRecovery of one base backup replaying {p['wal_mib']} MiB of WAL "
        f"(pgbench -i -s {p['scale']}, {SEGMENT_MIB} MiB segments), {p['repeats']} interleaved "
        "repeats after one unmeasured warm-up round. Sustained: from the first segment "
        "restored to the last (PostgreSQL's log); start to promotion adds what every recovery "
        "pays once (CNPG's client sleeps 100 ms after each file not found).\n\n"
        f"{table}\n\nAim: sustained replay through the sidecar ≥ {AIM} of the limit: "
        f"**{verdict}**."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    args = parser.parse_args()
    result = measure(args.scale, args.repeats)
    print(json.dumps(result, indent=2))
    print(render(result))


if __name__ == "__main__":
    main()
