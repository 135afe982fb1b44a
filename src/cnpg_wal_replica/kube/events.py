"""Kubernetes Events on the Cluster, de-duplicated so a steady state writes nothing."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx  # lightkube's HTTP client (not httpx): its transport errors
import structlog
from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Event

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.lru import Recent
from cnpg_wal_replica.metadata import APP_NAME

log = structlog.get_logger(__name__)

REPEAT_AFTER_SECONDS = 600.0
"""The same event for the same Cluster is posted again at most this often."""
REMEMBERED = 4096
"""Events whose last posting is remembered (the oldest is forgotten first)."""


class EventRecorder:
    """Posts core/v1 Events about Clusters; never raises (events are best effort)."""

    def __init__(self, client: AsyncClient, *, repeat_after: float = REPEAT_AFTER_SECONDS) -> None:
        self._client = client
        self._repeat_after = repeat_after
        self._last_sent: Recent[tuple[str, str, str], float] = Recent(REMEMBERED)

    async def record(self, view: ClusterView, event_type: str, reason: str, message: str) -> bool:
        """Post an event unless the same one was posted recently; True when posted."""
        key = (view.uid or f"{view.namespace}/{view.name}", reason, message)
        now = time.monotonic()
        last = self._last_sent.get(key)
        if last is not None and now - last < self._repeat_after:
            return False
        self._last_sent.put(key, now)
        try:
            event: Any = Event.from_dict(self._event(view, event_type, reason, message))
            await self._client.create(event)
        except ApiError as exc:
            log.warning(
                "event_not_posted",
                cluster=view.name,
                namespace=view.namespace,
                reason=reason,
                error=exc.status.message,
            )
            return False
        except httpx.TransportError as exc:
            log.warning(
                "event_not_posted",
                cluster=view.name,
                namespace=view.namespace,
                reason=reason,
                error=f"cannot reach the Kubernetes API server: {exc or type(exc).__name__}",
            )
            return False
        except Exception as exc:  # best effort: an Event must never fail the call it reports
            log.warning(
                "event_not_posted",
                cluster=view.name,
                namespace=view.namespace,
                reason=reason,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        return True

    @staticmethod
    def _event(view: ClusterView, event_type: str, reason: str, message: str) -> dict[str, Any]:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        suffix = hashlib.sha256(f"{reason}{message}{time.time_ns()}".encode()).hexdigest()[:10]
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{view.name}.{suffix}", "namespace": view.namespace},
            "involvedObject": {
                "apiVersion": view.api_version,
                "kind": view.kind,
                "name": view.name,
                "namespace": view.namespace,
                "uid": view.uid,
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": APP_NAME},
            "reportingComponent": APP_NAME,
            "reportingInstance": APP_NAME,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
