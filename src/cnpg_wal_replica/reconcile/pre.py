"""Pre, which CNPG calls on nearly every reconcile: cheap, bounded, never failing.

A definition seen recently (by digest) was already checked, so it costs one hash; a new
one is parsed and its problems are logged, the same problems of a Cluster at most once per
`LOG_INTERVAL`. Both memories have a fixed size (`lru.Recent`).
"""

from __future__ import annotations

import hashlib
import time

import structlog

from cnpg_wal_replica import config
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.lru import Recent

log = structlog.get_logger(__name__)

LOG_INTERVAL = 300.0
"""Seconds before the same problems of the same Cluster are logged again."""
SEEN_SIZE = 1024
"""Cluster definitions remembered as already checked."""
LOGGED_SIZE = 1024
"""(Cluster, problems) pairs whose last log line is remembered."""


def digest_of(cluster_json: bytes) -> bytes:
    """A short digest of a Cluster definition (the key of the plugin's memos)."""
    return hashlib.blake2b(cluster_json, digest_size=16).digest()


class PreCheck:
    """Pre's whole job; see the module docstring."""

    def __init__(self, receiver_image: str | None) -> None:
        self._receiver_image = receiver_image
        self._seen: Recent[bytes, None] = Recent(SEEN_SIZE)
        self._logged: Recent[tuple[str, str], float] = Recent(LOGGED_SIZE)

    def __call__(self, cluster_json: bytes) -> None:
        """Decode and parse only; log configuration problems now and then. Never raises."""
        digest = digest_of(cluster_json)
        if digest in self._seen:
            self._seen.get(digest)
            return
        self._seen.put(digest, None)
        try:
            view = ClusterView.from_json(cluster_json)
            if not view.plugin_enabled:
                return
            _, issues = config.collect(view, self._receiver_image)
        except Exception:
            log.exception("pre_failed")
            return
        if not issues:
            return
        problems = [i.describe() for i in issues]
        key = (view.uid, "; ".join(problems))
        now = time.monotonic()
        last = self._logged.get(key)
        if last is None or now - last >= LOG_INTERVAL:
            self._logged.put(key, now)
            log.warning(
                "invalid_configuration",
                cluster=view.name,
                namespace=view.namespace,
                problems=problems,
            )
