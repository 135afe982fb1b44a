"""``cnpg-wal-replica verify DIR``: is a WAL directory complete and consistent?

``verify_archive`` reads the files (`verify_inspect`) and judges them (`verify_checks`);
``format_text`` and ``format_json`` are pure; the click command only wires them together.
Exit status: 0 when the archive is whole, 1 when it has problems, 2 when it cannot be read,
3 when it holds no WAL at all (an empty directory, or the wrong one).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from cnpg_wal_replica import units
from cnpg_wal_replica.archive.headers import read_long_header
from cnpg_wal_replica.archive.history import read_histories
from cnpg_wal_replica.archive.listing import ArchiveListing, list_archive
from cnpg_wal_replica.archive.names import (
    DEFAULT_SEGMENT_SIZE,
    classify_segment_name,
    format_lsn,
    is_valid_segment_size,
)
from cnpg_wal_replica.archive.state import DIVERGED_DIR, ArchiveState, StateFileError, load_state
from cnpg_wal_replica.tools.verify_checks import judge
from cnpg_wal_replica.tools.verify_inspect import inspect_all
from cnpg_wal_replica.tools.verify_report import Report

__all__ = [
    "Report",
    "detect_segment_size",
    "format_json",
    "format_text",
    "verify",
    "verify_archive",
]

EXIT_WHOLE = 0
EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2
EXIT_EMPTY = 3


def verify_archive(
    listing: ArchiveListing, state: ArchiveState, *, check_compressed: bool = True
) -> Report:
    """Check a listed archive: read each segment's first page (all of it when compressed)."""
    findings = inspect_all(listing, check_compressed=check_compressed)
    histories, history_errors = read_histories(listing)
    return judge(listing, state, findings, histories, history_errors)


def detect_segment_size(directory: Path, state: ArchiveState) -> int:
    """The state file's segment size, else the first readable segment header's, else 16 MiB."""
    if state.segment_size:
        return state.segment_size
    for name in sorted(os.listdir(directory)):
        parsed = classify_segment_name(name, DEFAULT_SEGMENT_SIZE)
        if parsed is None:
            continue
        header = read_long_header(directory / name, parsed[1])
        size = header.segment_size if header and header.is_long else 0
        if is_valid_segment_size(size):
            return size
    return DEFAULT_SEGMENT_SIZE


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_text(report: Report) -> str:
    """The human report, ending with the verdict line."""
    lsn = format_lsn
    c = report.counts
    lines = [
        f"WAL archive {report.directory}",
        f"  segment size {_size(report.segment_size)}, "
        f"system identifier {report.system_identifier or 'unknown'}",
        f"  {c['segments']} segments ({c['gzip']} gzip, {c['lz4']} lz4), {c['partials']} partial, "
        f"{c['histories']} history, {c['unknown']} unknown; {_size(c['bytes'])}",
    ]
    for tl in report.timelines:
        extra = f", partial {tl.partial}" if tl.partial else ""
        lines.append(
            f"  timeline {tl.timeline}: {lsn(tl.start_lsn)} .. {lsn(tl.end_lsn)}, "
            f"{tl.segments} segments{extra}"
        )
    rec = report.recoverable
    if rec is None:
        lines.append("recoverable: nothing (no WAL segments)")
    else:
        received = ""
        if rec.partial_end_lsn is not None:
            received = (
                f" (and partial segment {rec.partial} up to about {lsn(rec.partial_end_lsn)})"
            )
        elif rec.partial is not None:
            received = f" (and partial segment {rec.partial})"
        lines.append(
            f"recoverable: timeline {rec.timeline} from {lsn(rec.start_lsn)} "
            f"to {lsn(rec.end_lsn)}{received}"
        )
    if report.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in report.notes)
    if report.problems:
        lines.append(f"problems ({len(report.problems)}):")
        lines.extend(f"  - {p.kind}: {p.message}" for p in report.problems)
        lines.append(f"result: INCOMPLETE ({len(report.problems)} problems)")
    elif report.empty:
        other = c["histories"] + c["unknown"]
        lines.append(
            f"result: EMPTY, no WAL segment in {report.directory} ({other} other files); "
            "is this the receiver's WAL directory?"
        )
    else:
        lines.append("result: OK, the archive is whole")
    return "\n".join(lines)


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data; LSNs as PostgreSQL prints them."""
    lsn = format_lsn
    rec = report.recoverable
    return {
        "directory": report.directory,
        "result": report.result,
        "whole": report.whole,
        "segment_size": report.segment_size,
        "system_identifier": report.system_identifier,
        "counts": dict(report.counts),
        "timelines": [
            {
                "timeline": tl.timeline,
                "start_lsn": lsn(tl.start_lsn),
                "end_lsn": lsn(tl.end_lsn),
                "segments": tl.segments,
                "partial": tl.partial,
            }
            for tl in report.timelines
        ],
        "recoverable": None
        if rec is None
        else {
            "timeline": rec.timeline,
            "start_lsn": lsn(rec.start_lsn),
            "end_lsn": lsn(rec.end_lsn),
            "partial": rec.partial,
            "partial_end_lsn": None if rec.partial_end_lsn is None else lsn(rec.partial_end_lsn),
        },
        "problems": [
            {"kind": p.kind, "message": p.message, "files": list(p.files)} for p in report.problems
        ],
        "notes": list(report.notes),
    }


def format_json(report: Report) -> str:
    """The report as indented JSON."""
    return json.dumps(report_dict(report), indent=2)


def _parse_segment_size(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> int | None:
    if value is None:
        return None
    try:
        size = units.parse_bytes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if not is_valid_segment_size(size):
        raise click.BadParameter(f"{value!r}: a power of two from 1Mi to 1Gi (example: 16Mi)")
    return size


@click.command("verify")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--segment-size",
    callback=_parse_segment_size,
    help="WAL segment size (e.g. 16Mi); default: from the state file or the segments.",
)
@click.option(
    "--skip-compressed-content",
    is_flag=True,
    help="Check compressed segments' headers only, without decompressing them fully.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    directory: Path,
    as_json: bool,
    segment_size: int | None,
    skip_compressed_content: bool,
) -> None:
    """Check that the WAL directory DIRECTORY is complete and consistent.

    Exit status 0 when it is whole, 1 when it has problems, 2 when it cannot be read,
    3 when it holds no WAL at all.
    """
    try:
        state = load_state(directory)
        size = segment_size or detect_segment_size(directory, state)
        listing = list_archive(directory, size)
    except (StateFileError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(EXIT_UNREADABLE)
    report = verify_archive(listing, state, check_compressed=not skip_compressed_content)
    if report.empty:
        report = replace(report, notes=(*report.notes, *_wal_below(directory, size)))
    click.echo(format_json(report) if as_json else format_text(report))
    ctx.exit(exit_status(report))


def _wal_below(directory: Path, segment_size: int) -> list[str]:
    """Notes naming sub-directories that hold WAL segments (the right directory, maybe)."""
    notes = []
    try:
        children = sorted(p for p in directory.iterdir() if p.is_dir())
    except OSError:
        return []
    for child in children:
        if child.name == DIVERGED_DIR:
            continue
        try:
            names = os.listdir(child)
        except OSError:
            continue
        count = sum(1 for n in names if classify_segment_name(n, segment_size) is not None)
        if count:
            notes.append(f"{child} holds {count} WAL segment files: verify that directory?")
    return notes


def exit_status(report: Report) -> int:
    """0 whole, 1 problems, 3 empty (no WAL at all)."""
    if report.problems:
        return EXIT_PROBLEMS
    return EXIT_EMPTY if report.empty else EXIT_WHOLE
