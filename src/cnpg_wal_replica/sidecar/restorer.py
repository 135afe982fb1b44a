"""One restore request, as PostgreSQL's ``restore_command`` makes it: the file, or not found.

Every failure looks like "not found" to PostgreSQL, and during a recovery "not found" means
"the WAL ends here": answering it for a receiver that is merely restarting would end the
recovery early and lose every transaction after that point. So a transient failure (the
receiver unreachable, a stream cut short) is retried with backoff for ``retry_seconds``;
only the receiver's own NOT_FOUND, or a definitive refusal, is answered at once.

After a complete segment, the next ``prefetch`` segments of its timeline are fetched into
the spool in the background, so replay does not wait one round trip per segment. A segment
still being written (the newest partial) is never kept there: its next fetch has more.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from pathlib import Path

import structlog

from cnpg_wal_replica.archive.names import SegmentName, parse_segment_name
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.sidecar.client import ArchiveClient, Fetched, FetchError

log = structlog.get_logger("sidecar.restore")

FIRST_BACKOFF = 0.2
MAX_BACKOFF = 5.0


class NotInArchiveError(WalReplicaError):
    """The receiver has no such file: the WAL ends here (for now)."""


class Restorer:
    """Answers restore requests from one receiver, with a spool of prefetched segments."""

    def __init__(
        self, client: ArchiveClient, spool: Path, *, prefetch: int, retry_seconds: float
    ) -> None:
        self._archive = client
        self._spool = spool
        self._prefetch = prefetch
        self._retry_seconds = retry_seconds
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        spool.mkdir(parents=True, exist_ok=True)
        for stale in spool.iterdir():  # a previous run's files may be of another timeline
            stale.unlink(missing_ok=True)

    async def restore(self, name: str, destination: Path) -> Fetched | None:
        """Put *name* at *destination*; `NotInArchiveError` or `FetchError` when it cannot.

        Returns what was fetched, or None when the spool had it.
        """
        started = time.monotonic()
        pending = self._in_flight.get(name)
        if pending is not None:
            await asyncio.shield(pending)
        spooled = self._spool / name
        if spooled.is_file():
            size = await asyncio.to_thread(_move, spooled, destination)
            self._prefetch_after(name, spooled_size=size)
            log.info("restored", name=name, source="spool", seconds=_since(started))
            return None
        fetched = await self._fetch_retrying(name, destination)
        if fetched is None:
            log.info("not_found", name=name, seconds=_since(started))
            raise NotInArchiveError(name)
        log.info(
            "restored",
            name=name,
            source=fetched.source,
            partial=fetched.partial,
            seconds=_since(started),
        )
        if parse_segment_name(name, fetched.size) is not None and not fetched.partial:
            self._prefetch_after(name, spooled_size=fetched.size)
        return fetched

    async def _fetch_retrying(self, name: str, destination: Path) -> Fetched | None:
        deadline = time.monotonic() + self._retry_seconds
        backoff = FIRST_BACKOFF
        while True:
            try:
                return await self._archive.fetch(name, destination)
            except FetchError as exc:
                left = deadline - time.monotonic()
                if not exc.transient or left <= 0:
                    log.error("fetch_failed", name=name, error=str(exc), retried=exc.transient)
                    raise
                log.warning("fetch_retrying", name=name, error=str(exc), in_seconds=backoff)
                await asyncio.sleep(min(backoff, left))
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _prefetch_after(self, name: str, spooled_size: int) -> None:
        """Start fetching the segments after *name*; drop spooled ones no longer ahead."""
        segment = parse_segment_name(name, spooled_size)
        if segment is None or self._prefetch == 0:
            return
        ahead = [
            SegmentName(segment.timeline, segment.segno + step).name(spooled_size)
            for step in range(1, self._prefetch + 1)
        ]
        for entry in self._spool.iterdir():  # fetches in flight write hidden names
            if entry.name not in ahead and not entry.name.startswith("."):
                entry.unlink(missing_ok=True)
        for wanted in ahead:
            if wanted in self._in_flight or (self._spool / wanted).exists():
                continue
            task = asyncio.create_task(self._prefetch_one(wanted), name=f"prefetch {wanted}")
            self._in_flight[wanted] = task
            task.add_done_callback(functools.partial(self._done, wanted))

    def _done(self, name: str, _: asyncio.Task[None]) -> None:
        self._in_flight.pop(name, None)

    async def _prefetch_one(self, name: str) -> None:
        """Fetch into the spool; never raises (a miss is fetched again when asked for)."""
        target = self._spool / name
        try:
            fetched = await self._archive.fetch(name, target)
        except FetchError as exc:
            log.debug("prefetch_failed", name=name, error=str(exc))
            return
        except OSError as exc:
            log.warning("prefetch_failed", name=name, error=str(exc), spool=str(self._spool))
            return
        if fetched is None or fetched.partial:
            target.unlink(missing_ok=True)  # not there yet, or still growing: ask again later

    async def close(self) -> None:
        """Stop prefetching."""
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)


def _move(source: Path, destination: Path) -> int:
    """Move a spooled file into place (a rename on one file system); its size."""
    size = source.stat().st_size
    shutil.move(source, destination)
    return size


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
