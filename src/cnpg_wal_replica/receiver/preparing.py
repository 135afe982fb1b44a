"""Everything done before each start of ``pg_receivewal`` (one replication connection).

Identify the server, refuse a directory of another system, set diverged WAL aside after a
timeline fork, make sure the slot exists (re-creating an invalidated one), and when the last
run found its WAL removed on the server, resume at the slot and record the gap.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from pathlib import Path

import structlog

from cnpg_wal_replica.archive.headers import read_long_header
from cnpg_wal_replica.archive.history import TimelineSwitch, parse_history
from cnpg_wal_replica.archive.listing import ArchiveListing, list_archive
from cnpg_wal_replica.archive.names import format_lsn
from cnpg_wal_replica.archive.partial import pad_short_partials
from cnpg_wal_replica.archive.state import (
    DIVERGED_DIR,
    WRITE_PROBE_FILE,
    ArchiveState,
    StateFileError,
    fsync_directory,
    load_state,
    save_state,
)
from cnpg_wal_replica.errors import ArchiveError
from cnpg_wal_replica.receiver import postgres, recovery
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState

log = structlog.get_logger("receiver")

_SIZE_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3}


class ForeignArchiveError(ArchiveError):
    """The WAL directory belongs to another PostgreSQL system (or segment size)."""


def parse_size_setting(text: str) -> int:
    """``SHOW wal_segment_size`` output (``16MB``, ``1MB``) in bytes."""
    for unit in ("kB", "MB", "GB", "B"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * _SIZE_UNITS[unit]
    return int(text)


def check_identity(saved: ArchiveState, info: postgres.SystemInfo, segment_size: int) -> str | None:
    """Why this directory must not receive this server's WAL; ``None`` when it may."""
    if saved.system_identifier is not None and saved.system_identifier != info.system_identifier:
        return (
            f"WAL directory holds system {saved.system_identifier}, server is "
            f"{info.system_identifier}: refusing to mix archives (use an empty directory "
            "or a new volume for the new cluster)"
        )
    if saved.segment_size is not None and saved.segment_size != segment_size:
        return (
            f"WAL directory has {saved.segment_size}-byte segments, server writes "
            f"{segment_size}-byte ones: refusing to mix archives"
        )
    return None


def sniff_system_identifier(listing: ArchiveListing) -> str | None:
    """The system identifier in the first readable segment header (plain or gzip)."""
    for file in (*listing.segments, *listing.partials):
        header = read_long_header(file.path, file.compression)
        if header is not None and header.is_long:
            return str(header.system_identifier)
    return None


def move_aside(directory: Path, paths: tuple[Path, ...]) -> list[Path]:
    """Move files into ``DIVERGED_DIR`` (never overwriting, never deleting)."""
    target = directory / DIVERGED_DIR
    target.mkdir(exist_ok=True)
    moved = []
    for path in paths:
        destination = target / path.name
        counter = 1
        while destination.exists():
            destination = target / f"{path.name}.{counter}"
            counter += 1
        os.rename(path, destination)
        moved.append(destination)
    fsync_directory(target)
    fsync_directory(directory)
    return moved


def create_empty(directory: Path, name: str) -> None:
    """Create an empty file (the ``.partial`` pg_receivewal should continue)."""
    (directory / name).touch(exist_ok=True)
    fsync_directory(directory)


def ensure_writable(directory: Path) -> None:
    """Create, write and remove a small file in ``directory``; the ``OSError`` if that fails.

    Checked before the slot is created: a slot for a directory that cannot be written would
    only pin WAL on the primary.
    """
    probe = directory / WRITE_PROBE_FILE
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                probe.unlink()
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(directory)) from exc


async def prepare(
    settings: ReceiverSettings,
    state: ReceiverState,
    metrics: ReceiverMetrics,
    *,
    lost_wal: bool,
    quiet: bool = False,
) -> None:
    """Make the directory and the server ready for one pg_receivewal run.

    ``quiet``: retrying after failed runs; routine lines (the slot exists) go to debug.
    """
    directory = settings.wal_directory
    directory.mkdir(parents=True, exist_ok=True)
    ensure_writable(directory)
    async with postgres.replication_connection(settings) as conn:
        info = await postgres.identify_system(conn)
        cur = await conn.execute(b"SHOW wal_segment_size")
        row = await cur.fetchone()
        assert row is not None
        segment_size = parse_size_setting(postgres._text(row[0]))
        try:
            saved = load_state(directory)
        except StateFileError as exc:
            reason = f"{exc}; the receiver writes nothing until it is repaired or moved aside"
            state.blocked_reason = reason
            metrics.archive_refused.set(1)
            raise ForeignArchiveError(reason) from exc
        if saved.system_identifier is None:  # no state file: trust what the WAL itself says
            found = sniff_system_identifier(list_archive(directory, segment_size))
            saved = ArchiveState(found, saved.timeline, saved.segment_size, saved.gaps)
        refusal = check_identity(saved, info, segment_size)
        state.system_identifier_mismatch = refusal is not None
        metrics.sysid_mismatch.set(1 if refusal else 0)
        metrics.archive_refused.set(1 if refusal else 0)
        state.blocked_reason = refusal
        if refusal:
            raise ForeignArchiveError(refusal)
        history: tuple[TimelineSwitch, ...] = ()
        if info.timeline > 1:
            _, content = await postgres.timeline_history(conn, info.timeline)
            history = parse_history(content)
        for name, size in pad_short_partials(list_archive(directory, segment_size)):
            log.warning(
                "partial_padded",
                file=name,
                size=size,
                padded_to=segment_size,
                reason="left short by an interrupted pg_receivewal (zero fill not finished)",
            )
        fork = recovery.plan_fork(list_archive(directory, segment_size), info.timeline, history)
        if fork is not None:
            moved = move_aside(directory, fork.move_aside)
            if fork.create_partial:
                create_empty(directory, fork.create_partial)
            metrics.diverged_files.inc(len(moved))
            log.warning(
                "timeline_fork",
                server_timeline=info.timeline,
                fork_timeline=fork.fork_timeline,
                fork_lsn=format_lsn(fork.fork_lsn),
                moved_aside=[p.name for p in moved],
                created=fork.create_partial,
            )
        slot = await postgres.read_slot(conn, settings.slot_name, settings)
        if slot is not None and slot.restart_lsn is None:
            log.warning("slot_invalidated", slot=settings.slot_name, action="drop and re-create")
            await postgres.drop_slot(conn, settings.slot_name)
            slot = None
        if slot is None:
            created = await postgres.create_slot(conn, settings.slot_name)
            log.info("slot_created" if created else "slot_exists", slot=settings.slot_name)
            slot = await postgres.read_slot(conn, settings.slot_name, settings)
        else:
            (log.debug if quiet else log.info)(
                "slot_exists",
                slot=settings.slot_name,
                restart_lsn=format_lsn(slot.restart_lsn or 0),
            )
        if lost_wal:
            resume = await _resume_point(
                conn, settings, settings.slot_name, directory, segment_size, slot
            )
            saved = _resume_after_lost_wal(directory, saved, info.timeline, resume, segment_size)
    saved = ArchiveState(info.system_identifier, info.timeline, segment_size, saved.gaps)
    if saved != load_state(directory):
        save_state(directory, saved)
    state.timeline = info.timeline
    metrics.timeline.set(info.timeline)
    metrics.gaps.set(len(saved.gaps))
    metrics.gap_bytes.set(sum(g.end_lsn - g.start_lsn for g in saved.gaps))
    metrics.last_gap_time.set(newest_gap_time(saved))


def newest_gap_time(saved: ArchiveState) -> float:
    """When the newest gap was recorded, in seconds since the epoch; 0 without gaps (a
    hand-edited time that is not ISO 8601 is skipped)."""
    times = []
    for gap in saved.gaps:
        with contextlib.suppress(ValueError):
            times.append(datetime.datetime.fromisoformat(gap.recorded_at).timestamp())
    return max(times, default=0.0)


async def _resume_point(
    conn: postgres.ReplicationConnection,
    settings: ReceiverSettings,
    slot_name: str,
    directory: Path,
    segment_size: int,
    slot: postgres.SlotInfo | None,
) -> int:
    """Where to resume after lost WAL: the slot's restart LSN when it is past what we
    need (the server keeps WAL from there), else a fresh slot's (the server's now)."""
    start = recovery.streaming_start(list_archive(directory, segment_size))
    needed = 0 if start is None else start.lsn - start.lsn % segment_size
    held = None if slot is None else slot.restart_lsn
    if held is not None and held - held % segment_size > needed:
        return held
    log.warning("slot_behind_removed_wal", slot=slot_name, action="drop and re-create")
    await postgres.drop_slot(conn, slot_name)
    await postgres.create_slot(conn, slot_name)
    fresh = await postgres.read_slot(conn, slot_name, settings)
    assert fresh is not None
    assert fresh.restart_lsn is not None
    return fresh.restart_lsn


def _resume_after_lost_wal(
    directory: Path, saved: ArchiveState, timeline: int, resume_lsn: int, segment_size: int
) -> ArchiveState:
    plan = recovery.plan_lost_wal(
        list_archive(directory, segment_size),
        server_timeline=timeline,
        resume_lsn=resume_lsn,
        now=datetime.datetime.now(datetime.UTC),
    )
    if plan is None:
        return saved
    create_empty(directory, plan.create_partial)
    updated = saved.with_gap(plan.gap)
    save_state(directory, updated)
    log.error(
        "wal_lost",
        gap_start=format_lsn(plan.gap.start_lsn),
        gap_end=format_lsn(plan.gap.end_lsn),
        timeline=plan.gap.timeline,
        gap_bytes=plan.gap.end_lsn - plan.gap.start_lsn,
        resume_at=plan.create_partial,
    )
    return updated
