"""How fast `verify_archive` checks an archive, in segments per second.

Builds synthetic archives in a temporary directory and times listing plus verification.
Plain segments are sparse files (a real long page header, then a hole), so thousands of
16 MiB segments cost a few MiB of disk; gzip segments are 1 MiB segments (they are fully
decompressed by verify, as it does for real archives). Runs in well under 30 s.

    uv run --frozen python bench/bench_verify.py [--segments 2000] [--json results.json]

``--json FILE`` reads FILE as a JSON object (when it exists), sets its "verify" key to
these results, and writes it back.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from cnpg_wal_replica.archive.headers import LONG_PAGE_HEADER_SIZE, XLP_LONG_HEADER, LongPageHeader
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName
from cnpg_wal_replica.archive.state import ArchiveState, load_state, save_state
from cnpg_wal_replica.tools.verify import verify_archive

MIB = 1024 * 1024
SYSID = 7301234567890123456


def header(segno: int, segment_size: int) -> bytes:
    return LongPageHeader(
        magic=0xD110,
        info=XLP_LONG_HEADER,
        timeline=1,
        page_address=segno * segment_size,
        remaining_length=0,
        system_identifier=SYSID,
        segment_size=segment_size,
        block_size=8192,
    ).pack()


def build(directory: Path, count: int, segment_size: int, compressed: bool) -> None:
    zeros = bytes(segment_size - LONG_PAGE_HEADER_SIZE) if compressed else b""
    for segno in range(1, count + 1):
        name = SegmentName(1, segno).name(segment_size)
        if compressed:
            data = gzip.compress(header(segno, segment_size) + zeros, compresslevel=1)
            (directory / f"{name}.gz").write_bytes(data)
        else:
            with open(directory / name, "wb") as handle:
                handle.write(header(segno, segment_size))
                handle.truncate(segment_size)  # sparse
    partial = directory / SegmentName(1, count + 1).partial_name(segment_size)
    with open(partial, "wb") as handle:
        handle.write(header(count + 1, segment_size))
        handle.truncate(segment_size)
    save_state(
        directory,
        ArchiveState(system_identifier=str(SYSID), timeline=1, segment_size=segment_size),
    )


def measure(count: int, segment_size: int, compressed: bool) -> dict[str, float | int | str]:
    directory = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        build(directory, count, segment_size, compressed)
        os.sync()
        started = time.perf_counter()
        listing = list_archive(directory, segment_size)
        listed = time.perf_counter()
        report = verify_archive(listing, load_state(directory))
        done = time.perf_counter()
        assert report.whole, report.problems
        assert report.counts["segments"] == count
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {
        "case": f"{'gzip' if compressed else 'plain'} {segment_size // MIB} MiB",
        "segments": count,
        "list_s": round(listed - started, 4),
        "verify_s": round(done - listed, 4),
        "segments_per_s": round(count / (done - started)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=2000, help="plain segments per case")
    parser.add_argument("--gzip-segments", type=int, default=200, help="gzip segments")
    parser.add_argument("--json", type=Path, help="JSON object file to add the results to")
    args = parser.parse_args()
    rows = [
        measure(args.segments, MIB, compressed=False),
        measure(args.segments, 16 * MIB, compressed=False),
        measure(args.gzip_segments, MIB, compressed=True),
    ]
    print(f"{'case':<14} {'segments':>8} {'list s':>8} {'verify s':>9} {'segments/s':>11}")
    for row in rows:
        print(
            f"{row['case']:<14} {row['segments']:>8} {row['list_s']:>8.3f} "
            f"{row['verify_s']:>9.3f} {row['segments_per_s']:>11}"
        )
    if args.json:
        results = json.loads(args.json.read_text()) if args.json.exists() else {}
        results["verify"] = rows
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
