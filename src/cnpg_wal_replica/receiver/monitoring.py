"""Background loop: server status, directory statistics and retention, every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from pathlib import Path

import psycopg
import structlog

from cnpg_wal_replica.archive.listing import ArchiveListing, list_archive
from cnpg_wal_replica.archive.state import StateFileError, load_state
from cnpg_wal_replica.receiver import postgres, preparing, recovery, retention, standby_names
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import ReceiverSettings
from cnpg_wal_replica.receiver.state import ReceiverState, storage_problem

STATUS_INTERVAL = 1.0
STATUS_TIMEOUT = 10.0
DIRECTORY_INTERVAL = 5.0
RETENTION_INTERVAL = 60.0

log = structlog.get_logger("receiver")


async def poll(
    settings: ReceiverSettings, state: ReceiverState, metrics: ReceiverMetrics, stop: asyncio.Event
) -> None:
    """Run until cancelled or ``stop``; never raises for a failed round."""
    last_retention = 0.0
    last_directory = time.monotonic()  # first look after the supervisor created the directory
    session = postgres.StatusSession(settings)
    try:
        while not stop.is_set():
            now = time.monotonic()
            await poll_server(session, state, metrics)
            if now - last_directory >= DIRECTORY_INTERVAL:
                last_directory = now
                check_writable(settings.wal_directory, state, metrics)
                last_retention = _directory_round(settings, metrics, now, last_retention)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=STATUS_INTERVAL)
    finally:
        await session.close()


async def poll_server(
    session: postgres.StatusSession, state: ReceiverState, metrics: ReceiverMetrics
) -> None:
    """One status query; on failure the state keeps its old (aging) status."""
    try:
        status = await asyncio.wait_for(session.fetch(), timeout=STATUS_TIMEOUT)
    except (psycopg.Error, OSError, TimeoutError) as exc:
        await session.close()
        state.connected = False
        metrics.connected.set(0)
        log.debug("status_failed", error=" ".join(str(exc).split()))
        return
    now = time.monotonic()
    state.status_at = now
    state.connected = status.slot_active
    state.current_lsn = status.current_lsn
    state.record_flush(status.flush_lsn, now)
    state.received_lsn = status.write_lsn or status.flush_lsn
    metrics.connected.set(1 if status.slot_active else 0)
    metrics.primary_lsn.set(status.current_lsn)
    if state.flushed_lsn is not None:
        metrics.flushed_lsn.set(state.flushed_lsn)
    if state.received_lsn is not None:
        metrics.received_lsn.set(state.received_lsn)
    if state.lag_bytes is not None:
        metrics.lag_bytes.set(state.lag_bytes)
    metrics.set_slot_status(status.slot_wal_status)
    listed = standby_names.lists(
        status.synchronous_standby_names, session.settings.application_name
    )
    metrics.synchronous_listed.set(1 if listed else 0)
    metrics.slot_safe_wal_size.set(
        math.nan if status.slot_safe_wal_size is None else status.slot_safe_wal_size
    )


def probe_writable(directory: Path) -> str | None:
    """``None`` when a file can be created and written in ``directory``, else the problem."""
    try:
        preparing.ensure_writable(directory)
    except OSError as exc:
        return storage_problem(exc)
    return None


def check_writable(directory: Path, state: ReceiverState, metrics: ReceiverMetrics) -> None:
    """Probe the WAL directory; publish and log when that changes (metric, readiness)."""
    problem = probe_writable(directory)
    if problem != state.storage_error:
        if problem:
            log.error("wal_directory_unwritable", path=str(directory), reason=problem)
        else:
            log.info("wal_directory_writable", path=str(directory))
    state.storage_error = problem
    metrics.storage_error.set(1 if problem else 0)


def _directory_round(
    settings: ReceiverSettings, metrics: ReceiverMetrics, now: float, last_retention: float
) -> float:
    directory = settings.wal_directory
    try:
        segment_size = load_state(directory).segment_size
        if segment_size is None:
            return last_retention
        listing = list_archive(directory, segment_size)
        if remove_superseded_partials(listing):
            listing = list_archive(directory, segment_size)
        fs = os.statvfs(directory)
    except (OSError, StateFileError) as exc:
        log.warning("directory_scan_failed", error=str(exc))
        return last_retention
    publish_directory(listing, fs.f_bavail * fs.f_frsize, metrics)
    metrics.volume_size.set(fs.f_blocks * fs.f_frsize)
    if now - last_retention < RETENTION_INTERVAL and last_retention:
        return last_retention
    run_retention(settings, listing, fs.f_bavail * fs.f_frsize, fs.f_blocks * fs.f_frsize, metrics)
    return now


def remove_superseded_partials(listing: ArchiveListing) -> int:
    """Delete partials their complete segment made redundant (a compression change);
    how many went."""
    removed = 0
    for partial in retention.superseded_partials(listing):
        try:
            partial.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("superseded_partial_kept", file=partial.name, error=str(exc))
            continue
        removed += 1
        log.info("superseded_partial_removed", file=partial.name)
    return removed


def publish_directory(listing: ArchiveListing, free_bytes: int, metrics: ReceiverMetrics) -> None:
    """Segments, bytes, the oldest and newest segment and timeline of the directory, and
    free space.

    The timeline is that of the file pg_receivewal writes: it follows a timeline switch of
    its server (a cascading standby whose upstream was promoted) without reconnecting, so
    only the files show the new timeline.
    """
    start = recovery.streaming_start(listing)
    if start is not None:
        metrics.timeline.set(start.timeline)
    metrics.segments_on_disk.set(len(listing.segments))
    metrics.bytes_on_disk.set(listing.wal_bytes)
    metrics.free_bytes.set(free_bytes)
    newest = listing.newest_segment
    metrics.set_last_segment(newest.segment.name(listing.segment_size) if newest else None)
    if newest is not None:
        metrics.last_segment_time.set(newest.mtime)
        metrics.first_segment_time.set(listing.segments[0].mtime)


def run_retention(
    settings: ReceiverSettings,
    listing: ArchiveListing,
    free_bytes: int,
    total_bytes: int,
    metrics: ReceiverMetrics,
) -> None:
    """Plan and apply retention; loud when the free-space floor forced extra deletions."""
    plan = retention.plan_retention(
        listing,
        now=time.time(),
        max_age_seconds=settings.retention_max_age,
        max_size_bytes=settings.retention_max_size,
        free_bytes=free_bytes,
        total_bytes=total_bytes,
    )
    metrics.retention_emergency.set(1 if plan.emergency else 0)
    metrics.retention_floor_unreachable.set(0 if plan.floor_reached else 1)
    if not plan.delete:
        if plan.emergency:
            log.error("retention_emergency", reason=plan.reason, deleted=0)
        return
    freed = retention.apply_plan(plan)
    metrics.retention_deleted.inc(len(plan.delete))
    event = log.error if plan.emergency else log.info
    event(
        "retention_emergency" if plan.emergency else "retention",
        reason=plan.reason,
        deleted=len(plan.delete),
        freed_bytes=freed,
        oldest_kept=_oldest_kept(listing, plan),
    )


def _oldest_kept(listing: ArchiveListing, plan: retention.RetentionPlan) -> str | None:
    deleted = set(plan.delete)
    kept = [s for s in listing.segments if s.path not in deleted]
    return kept[0].segment.name(listing.segment_size) if kept else None
