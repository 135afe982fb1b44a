"""``cnpg-wal-replica demo``: the whole receive path on a throwaway local PostgreSQL.

Starts PostgreSQL on 127.0.0.1 (TLS, certificate authentication for ``streaming_replica``),
runs the receiver against it, writes load, prints progress, and at the end runs ``verify``
on what was received. Every process is stopped and the directory removed on exit or Ctrl-C
(the directory is kept with ``--keep``).
"""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop by itself after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--synchronous", is_flag=True, help="Make the receiver the primary's synchronous standby."
)
@click.option(
    "--compression",
    default="none",
    show_default=True,
    help="Receiver compression: none, gzip, gzip:N, lz4 or lz4:N.",
)
@click.option(
    "--rows-per-second",
    type=click.IntRange(min=0),
    default=20000,
    show_default=True,
    help="Write load: rows of ~100 bytes inserted per second (0: no load).",
)
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port of the receiver's /metrics (default: any free port).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary directory (for inspection).")
def demo(
    duration: float | None,
    synchronous: bool,
    compression: str,
    rows_per_second: int,
    http_port: int,
    keep: bool,
) -> None:
    """Run PostgreSQL, the receiver and a write load locally; verify the archive at the end."""
    import asyncio

    from cnpg_wal_replica.demo.run import DemoOptions, run_demo

    options = DemoOptions(
        duration=duration,
        synchronous=synchronous,
        compression=compression,
        rows_per_second=rows_per_second,
        http_port=http_port,
        keep=keep,
    )
    raise SystemExit(asyncio.run(run_demo(options)))
