"""A test double of ``PluginCore``, steered by annotations in the Cluster JSON.

Why a double: the real core (``cnpg_wal_replica.reconcile``) needs a Kubernetes API server;
``tests/kube`` runs it against a real one. These tests are about the gRPC plumbing: framing,
status codes, TLS, concurrency and shutdown. Steering through the request JSON lets the same
double serve in-process and inside a ``serve`` subprocess.

Annotations read (all optional):
    test/delay     seconds post() and status() sleep before answering
    test/raise     "config" | "decode" | "apply" | "bug" | "pre": what to raise
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from cnpg_wal_replica.errors import ApplyError, ClusterDecodeError, ConfigError, ConfigIssue

SECRET_MARKER = "s3cr3t-key-material"
"""Put in the message of the unexpected error; must never reach the client."""

BAD_SIZE = ConfigIssue(
    path=("spec", "plugins", "0", "walPVCSize"),
    value="-1Gi",
    message="must be a Kubernetes quantity greater than zero, for example 10Gi",
)
BAD_SLOT = ConfigIssue(
    path=("spec", "plugins", "0", "slotName"),
    value="_cnpg_x",
    message="must not start with _cnpg_ (CNPG's own slots), for example wal_replica",
)
DEFAULTS_PATCH = [
    {"op": "add", "path": "/spec/plugins/0/parameters/walPVCSize", "value": "10Gi"},
]


def cluster_json(*, kind: str = "Cluster", name: str = "pg", **annotations: str) -> bytes:
    return json.dumps(
        {
            "kind": kind,
            "apiVersion": "postgresql.cnpg.io/v1",
            "metadata": {"name": name, "namespace": "default", "annotations": annotations},
            "spec": {"plugins": [{"name": "cnpg-i-wal-replica.documentdb.io", "parameters": {}}]},
        }
    ).encode()


def _annotations(cluster: bytes) -> dict[str, str]:
    try:
        document = json.loads(cluster)
    except ValueError as error:
        raise ClusterDecodeError(f"Cluster JSON is not valid: {error}") from None
    result: dict[str, str] = document.get("metadata", {}).get("annotations", {})
    return result


def _raise(what: str | None) -> None:
    if what == "config":
        raise ConfigError((BAD_SIZE,))
    if what == "decode":
        raise ClusterDecodeError("Cluster JSON has no metadata.name")
    if what == "apply":
        raise ApplyError("Deployment pg-wal-receiver: forbidden by the API server")
    if what == "bug":
        raise RuntimeError(f"unexpected failure holding {SECRET_MARKER}")


@dataclass
class RecordingCore:
    """Implements ``PluginCore``; records each call as (method, cluster name or None)."""

    calls: list[tuple[str, bytes]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def pre(self, cluster_json: bytes) -> None:
        self.calls.append(("pre", cluster_json))
        if _annotations(cluster_json).get("test/raise") == "pre":
            raise RuntimeError("pre failed (the servicer must still answer CONTINUE)")

    async def post(self, cluster_json: bytes) -> None:
        self.calls.append(("post", cluster_json))
        annotations = _annotations(cluster_json)
        await self._slow(annotations)
        _raise(annotations.get("test/raise"))

    def validate_create(self, cluster_json: bytes) -> tuple[ConfigIssue, ...]:
        self.calls.append(("validate_create", cluster_json))
        annotations = _annotations(cluster_json)
        _raise(annotations.get("test/raise"))
        return (BAD_SIZE, BAD_SLOT) if annotations.get("test/invalid") else ()

    def validate_change(self, old_json: bytes, new_json: bytes) -> tuple[ConfigIssue, ...]:
        self.calls.append(("validate_change", new_json))
        old, new = _annotations(old_json), _annotations(new_json)
        if old.get("test/slot") != new.get("test/slot"):
            return (BAD_SLOT,)
        return ()

    def mutate(self, cluster_json: bytes) -> bytes:
        self.calls.append(("mutate", cluster_json))
        _raise(_annotations(cluster_json).get("test/raise"))
        return json.dumps(DEFAULTS_PATCH).encode()

    async def status(self, cluster_json: bytes) -> dict[str, Any]:
        self.calls.append(("status", cluster_json))
        annotations = _annotations(cluster_json)
        await self._slow(annotations)
        _raise(annotations.get("test/raise"))
        return {"deployment": "pg-wal-receiver", "ready": True, "problems": []}

    async def lifecycle(self, operation: str, cluster_json: bytes, object_json: bytes) -> bytes:
        self.calls.append((f"lifecycle {operation}", object_json))
        _raise(_annotations(cluster_json).get("test/raise"))
        if _annotations(cluster_json).get("test/inject") != "yes":
            return b""
        return json.dumps(
            [{"op": "add", "path": "/metadata/labels/injected", "value": "yes"}]
        ).encode()

    async def _slow(self, annotations: dict[str, str]) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(float(annotations.get("test/delay", "0")))
        finally:
            self.in_flight -= 1


@asynccontextmanager
async def open_recording_core(settings: object) -> AsyncIterator[RecordingCore]:
    """Same shape as the real ``open_core``: the server's ``CoreFactory``."""
    yield RecordingCore()
