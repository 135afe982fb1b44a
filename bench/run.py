"""Run every benchmark side by side and write bench/results/latest.{json,md}.

    uv run --frozen python bench/run.py            # the full run (about 8 minutes)
    uv run --frozen python bench/run.py --quick    # a smoke run (about 2 minutes), written
                                                   # to bench/results/quick/ (not committed)
    uv run --frozen python bench/run.py --only receiver --repeats 5

Progress goes to stderr; the Markdown table goes to stdout and to latest.md.
A section that fails is reported as "not measured" with its error; the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:  # the benchmarks reuse tests/support/
    sys.path.insert(0, str(REPO / "tests"))

import bench_procs  # noqa: E402
import bench_report  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
"""The committed results of the last full run."""
QUICK_RESULTS = RESULTS / "quick"
"""Where a --quick run writes by default: git ignores it, so the full run's results stay."""
SECTIONS = ("plugin", "receiver", "replay", "verify")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_plugin(args: argparse.Namespace) -> dict[str, Any]:
    import bench_plugin

    return bench_plugin.measure(quick=args.quick, log=log)


def run_receiver(args: argparse.Namespace) -> dict[str, Any]:
    import bench_receiver

    params = bench_receiver.Params(
        scale=args.scale or (2 if args.quick else 10),
        clients=args.clients,
        duration=args.duration or (5 if args.quick else 20),
        repeats=args.repeats or (1 if args.quick else 3),
    )
    return bench_receiver.measure(params, log=log)


def run_replay(args: argparse.Namespace) -> dict[str, Any]:
    import bench_replay

    scale = args.scale or (5 if args.quick else bench_replay.DEFAULT_SCALE)
    repeats = args.repeats or (1 if args.quick else bench_replay.DEFAULT_REPEATS)
    return bench_replay.measure(scale, repeats, log=log)


def run_verify(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Helper V's bench/bench_verify.py: its `run(quick=...)` if it has one, else `measure`."""
    import bench_verify

    runner = getattr(bench_verify, "run", None)
    if callable(runner):
        return list(runner(quick=args.quick))
    mib = 1024 * 1024
    plain, gz = (500, 50) if args.quick else (2000, 200)
    return [
        bench_verify.measure(plain, mib, compressed=False),
        bench_verify.measure(plain, 16 * mib, compressed=False),
        bench_verify.measure(gz, mib, compressed=True),
    ]


RUNNERS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "plugin": run_plugin,
    "receiver": run_receiver,
    "replay": run_replay,
    "verify": run_verify,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: fewer calls, pgbench scale 2, 5 s, 1 repeat",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run ({', '.join(SECTIONS)})",
    )
    parser.add_argument("--scale", type=int, help="pgbench scale [10; quick 2]")
    parser.add_argument("--clients", type=int, default=4, help="pgbench clients [4]")
    parser.add_argument("--duration", type=int, help="seconds per pgbench run [20; quick 5]")
    parser.add_argument("--repeats", type=int, help="interleaved repeats [3; quick 1]")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where latest.json and latest.md go [bench/results; --quick: bench/results/quick]",
    )
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = QUICK_RESULTS if args.quick else RESULTS
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; use {', '.join(SECTIONS)}")
    args.sections = wanted
    return args


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {"machine": bench_procs.machine(), "quick": args.quick}
    failed = False
    for section in args.sections:
        log(f"== {section}")
        started = time.monotonic()
        try:
            results[section] = RUNNERS[section](args)
        except Exception as error:  # one broken section must not hide the others
            failed = True
            traceback.print_exc()
            results[section] = {"error": f"{type(error).__name__}: {error}"}
        log(f"== {section} done in {time.monotonic() - started:.0f} s")
    markdown = bench_report.render(results)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(args.output_dir / "latest.json", json.dumps(results, indent=2) + "\n")
    write_atomically(args.output_dir / "latest.md", markdown)
    print(markdown)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
