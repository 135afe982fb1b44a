"""The demo's moving parts: local PostgreSQL, the receiver, a write load, progress, verify."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import click
import psycopg

from cnpg_wal_replica import localpg, logs
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import format_lsn, parse_lsn
from cnpg_wal_replica.archive.state import load_state
from cnpg_wal_replica.receiver.app import run_receiver
from cnpg_wal_replica.receiver.settings import ReceiverSettings, SettingsError, load_settings

APP = "wal_replica_demo"
PROGRESS_EVERY = 2.0
SEGMENT_MB = 1


@dataclass(frozen=True)
class DemoOptions:
    """What the user asked the demo to do."""

    duration: float | None
    synchronous: bool
    compression: str
    rows_per_second: int
    http_port: int
    keep: bool


def _make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="wal-replica-demo-"))
    root.chmod(0o711)  # the server may run as "postgres" and must reach its files
    return root


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


async def run_demo(options: DemoOptions) -> int:
    """Run the demo; the exit status is ``verify``'s (0: the archive is whole)."""
    root = _make_root()
    log_file = root / "receiver.log"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        click.echo(f"starting PostgreSQL {localpg.PG_VERSION} on 127.0.0.1 in {root} ...")
        pg = await asyncio.to_thread(localpg.create_primary, root / "pg", wal_segsize_mb=SEGMENT_MB)
        if options.synchronous:
            await asyncio.to_thread(pg.set_config, synchronous_standby_names=APP)
        settings = _settings(pg, root / "wal", options)
        with log_file.open("w", encoding="utf-8") as log_handle:
            logs.configure("json", file=log_handle)
            return await _run(pg, settings, options, stop, log_file)
    except (SettingsError, localpg.LocalPostgresError, FileNotFoundError) as exc:
        click.echo(f"demo failed: {exc}", err=True)
        return 2
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await asyncio.to_thread(localpg.stop_all, root / "pg")
        if options.keep:
            click.echo(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            click.echo(f"removed {root}")


def _settings(pg: localpg.LocalPostgres, directory: Path, options: DemoOptions) -> ReceiverSettings:
    params = pg.replica_params()
    return load_settings(
        {
            "host": params["host"],
            "port": params["port"],
            "sslmode": "verify-full",
            "sslrootcert": params["sslrootcert"],
            "sslcert": params["sslcert"],
            "sslkey": params["sslkey"],
            "application_name": APP,
            "wal_directory": str(directory),
            "compression": options.compression,
            "http_address": f"127.0.0.1:{options.http_port or localpg.free_port()}",
            "pg_receivewal": str(pg.bindir / "pg_receivewal"),
        }
    )


async def _run(
    pg: localpg.LocalPostgres,
    settings: ReceiverSettings,
    options: DemoOptions,
    stop: asyncio.Event,
    log_file: Path,
) -> int:
    host, port = settings.http_address
    click.echo(
        f"receiver: slot {settings.slot_name}, directory {settings.wal_directory}, "
        f"{'synchronous' if options.synchronous else 'asynchronous'}, "
        f"compression {settings.compression.argument()}"
    )
    click.echo(f"metrics:  http://{host}:{port}/metrics  (also /healthz, /readyz)")
    click.echo(f"logs:     {log_file}")
    click.echo(
        "press Ctrl-C to stop"
        + (f" (stops by itself after {options.duration:g} s)" if options.duration else "")
    )
    receiver_stop = asyncio.Event()
    receiver = asyncio.create_task(run_receiver(settings, receiver_stop, handle_signals=False))
    load = asyncio.create_task(_write_load(pg, options.rows_per_second, stop))
    try:
        await _progress(pg, settings, stop, options.duration, receiver)
    finally:
        stop.set()
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
            await load
        await _settle(pg)
        receiver_stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(receiver, timeout=40)
    status = _verify(settings.wal_directory)
    click.echo(f"the metrics endpoint was http://{host}:{port}/metrics")
    return status


async def _write_load(pg: localpg.LocalPostgres, rows_per_second: int, stop: asyncio.Event) -> None:
    if rows_per_second == 0:
        return
    async with await psycopg.AsyncConnection.connect(
        pg.superuser_conninfo(), autocommit=True
    ) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS demo_load (id bigserial, payload text)")
        tick = 0.1
        batch = max(1, int(rows_per_second * tick))
        while not stop.is_set():
            started = time.monotonic()
            await conn.execute(
                "INSERT INTO demo_load (payload) SELECT md5(random()::text) || repeat('x', 60) "
                "FROM generate_series(1, %s)",
                (batch,),
            )
            await asyncio.sleep(max(0.0, tick - (time.monotonic() - started)))


async def _flush_position(pg: localpg.LocalPostgres) -> tuple[int, int]:
    rows = await asyncio.to_thread(
        pg.sql,
        (
            "SELECT pg_current_wal_lsn()::text, "
            "(SELECT flush_lsn::text FROM pg_stat_replication WHERE application_name = %s)"
        ),
        (APP,),
    )
    current, flushed = rows[0]
    return parse_lsn(current), parse_lsn(flushed) if flushed else 0


async def _progress(
    pg: localpg.LocalPostgres,
    settings: ReceiverSettings,
    stop: asyncio.Event,
    duration: float | None,
    receiver: asyncio.Task[int],
) -> None:
    started = time.monotonic()
    first_flush: int | None = None
    while not stop.is_set() and not receiver.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PROGRESS_EVERY)
        elapsed = time.monotonic() - started
        current, flushed = await _flush_position(pg)
        if flushed and first_flush is None:
            first_flush = flushed
        listing = list_archive(settings.wal_directory, SEGMENT_MB * 2**20)
        rate = (flushed - (first_flush or flushed)) / elapsed if elapsed else 0.0
        click.echo(
            f"[{elapsed:5.0f} s] segments {len(listing.segments):4d}  "
            f"archive {_mib(listing.wal_bytes):>10}  lag {_mib(max(0, current - flushed))}"
            f"  throughput {_mib(rate)}/s  flushed {format_lsn(flushed)}"
        )
        if duration is not None and elapsed >= duration:
            stop.set()


async def _settle(pg: localpg.LocalPostgres) -> None:
    """Let the receiver catch up with the last writes (a few seconds at most)."""
    deadline = time.monotonic() + 10
    with contextlib.suppress(psycopg.Error, localpg.LocalPostgresError):
        await asyncio.to_thread(pg.sql, "SELECT pg_switch_wal()")
        while time.monotonic() < deadline:
            current, flushed = await _flush_position(pg)
            if flushed >= current:
                return
            await asyncio.sleep(0.1)


def _verify(directory: Path) -> int:
    click.echo(f"\nverify {directory}:")
    try:
        from cnpg_wal_replica.tools.verify import format_text, verify_archive
    except ImportError:  # pragma: no cover - verify ships with the package
        click.echo("verify is not available in this build")
        return 1
    state = load_state(directory)
    if state.segment_size is None:
        click.echo("nothing was received (no state file)")
        return 1
    report = verify_archive(list_archive(directory, state.segment_size), state)
    click.echo(format_text(report))
    sys.stdout.flush()
    return 0 if report.whole else 1
