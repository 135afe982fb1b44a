"""Pure helpers of the benchmarks: statistics, ratios, parsers and the Markdown table.

No I/O here, so `tests/unit/test_bench_stats.py` can check every number the tables print.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence

MIB = 1024 * 1024

_TPS_RE = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)
_TPS_ANY_RE = re.compile(r"^tps = ([0-9.]+)", re.MULTILINE)
_SAMPLE_RE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)"
)
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

_RESTORED_RE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \S+ \[\d+\] LOG:  "
    r'restored log file "(?P<name>[0-9A-F]{24})" from archive',
    re.MULTILINE,
)

READ_VERBS = frozenset({"GET", "LIST"})
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"})


def median(values: Sequence[float]) -> float:
    """The median; the mean of the two middle values for an even count."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Count, p50, p99, mean and max of latencies given in seconds, in milliseconds."""
    return {
        "calls": len(seconds),
        "p50_ms": round(percentile(seconds, 50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
        "mean_ms": round(sum(seconds) / len(seconds) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded to 3 places; None when either is missing or 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def paired_ratio(
    numerators: Mapping[int, float], denominators: Mapping[int, float]
) -> float | None:
    """Median over repeats of ``numerator[r] / denominator[r]`` (repeats both have).

    Pairs runs that ran close together, so slow drift of a shared machine cancels out.
    """
    pairs = [numerators[r] / denominators[r] for r in numerators if denominators.get(r)]
    return round(median(pairs), 3) if pairs else None


def overhead_percent(ours: float | None, base: float | None) -> float | None:
    """How much more ``ours`` costs than ``base``, in percent (negative: less)."""
    if ours is None or not base:
        return None
    return round((ours / base - 1) * 100, 1)


def cpu_per_100mib(cpu_seconds: float, wal_bytes: int) -> float | None:
    """CPU seconds spent per 100 MiB of WAL; None when no WAL was written."""
    if wal_bytes <= 0:
        return None
    return round(cpu_seconds / (wal_bytes / (100 * MIB)), 4)


def parse_pgbench_tps(output: str) -> float:
    """The TPS pgbench printed (the figure without initial connection time when present)."""
    match = _TPS_RE.search(output) or _TPS_ANY_RE.search(output)
    if match is None:
        raise ValueError(f"no 'tps = ' line in pgbench output: {output[-500:]!r}")
    return float(match.group(1))


def sustained_replay(log_text: str) -> tuple[int, float] | None:
    """Segments replayed between the first and the last segment PostgreSQL restored, and
    the seconds between those two restores, from its log (``log_line_prefix`` ``%m [%p] ``).

    What is left out is what every recovery pays once whatever it restores from: the
    server's start, the history files looked for at start and at promotion, the end of WAL
    found. None with fewer than two restored segments.
    """
    times = [
        dt.datetime.strptime(m.group("at"), "%Y-%m-%d %H:%M:%S.%f")
        for m in _RESTORED_RE.finditer(log_text)
    ]
    if len(times) < 2:
        return None
    return len(times) - 1, (times[-1] - times[0]).total_seconds()


def parse_proc_cpu_ticks(stat_line: str) -> int:
    """utime + stime (clock ticks) from a ``/proc/<pid>/stat`` line."""
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def parse_proc_status_kib(status_text: str, key: str) -> int | None:
    """A ``kB`` value such as ``VmRSS`` or ``VmHWM`` from ``/proc/<pid>/status``."""
    for line in status_text.splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0])
    return None


def parse_metric_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric ``name`` in Prometheus text format, with its labels."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if match is None or match["name"] != name:
            continue
        labels = dict(_LABEL_RE.findall(match["labels"] or ""))
        samples.append((labels, float(match["value"])))
    return samples


def request_counts(metrics_text: str, resources: Iterable[str]) -> dict[tuple[str, str], float]:
    """``apiserver_request_total`` summed by (verb, resource), for the given resources."""
    wanted = set(resources)
    counts: dict[tuple[str, str], float] = {}
    for labels, value in parse_metric_samples(metrics_text, "apiserver_request_total"):
        resource = labels.get("resource", "")
        if resource in wanted:
            key = (labels.get("verb", ""), resource)
            counts[key] = counts.get(key, 0.0) + value
    return counts


def request_delta(
    before: Mapping[tuple[str, str], float], after: Mapping[tuple[str, str], float]
) -> dict[str, float]:
    """Reads and writes between two `request_counts`, plus the count per verb/resource."""
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    delta = {key: value for key, value in delta.items() if value}
    reads = sum(v for (verb, _), v in delta.items() if verb in READ_VERBS)
    writes = sum(v for (verb, _), v in delta.items() if verb in WRITE_VERBS)
    detail = {f"{verb} {resource}": value for (verb, resource), value in sorted(delta.items())}
    return {"reads": reads, "writes": writes, **detail}


def fmt(value: object, digits: int = 2) -> str:
    """A table cell: numbers rounded, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells go through `fmt`, first column left-aligned."""
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join([":---"] + ["---:"] * (len(headers) - 1)) + "|")
    for row in rows:
        lines.append("| " + " | ".join(fmt(cell) for cell in row) + " |")
    return "\n".join(lines)


def aim_verdict(value: float | None, limit: float, *, at_least: bool = False) -> str:
    """'met' or 'missed' against an aim (``value ≤ limit``, or ``≥`` with ``at_least``)."""
    if value is None:
        return "not measured"
    met = value >= limit if at_least else value <= limit
    return "met" if met else "missed"
