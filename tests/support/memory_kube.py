"""An in-memory Kubernetes API for unit tests of reconcile decisions: no API server.

`MemoryKube` implements both `kube.interface.Applier` and `kube.interface.EventSink`: objects
live in a dict keyed by (kind, namespace, name), and every write request that the store
accepts is appended to `writes`, in order, like the API server's audit log (a delete of a
missing object and a create of an existing one are requests too). Only tests use it, so it
lives here rather than in the package; the Protocols it satisfies are the package's.

What it models honestly: server-side apply as one field manager (the applied fields are
merged into the live object, so fields others set, such as `status`, stay; lists and
values are replaced), a claim that may not shrink or change StorageClass (the API server
refuses both), label merge patches (None removes), deletes and creates that report whether
anything was there. What it does not: resourceVersion, generation, schema validation, owner
garbage collection, other field managers' ownership.

``refuse`` lets a test play a quota or an admission policy: called with each write before
it happens, it returns the exception to raise (or None).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ApplyError
from cnpg_wal_replica.units import parse_quantity

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Write:
    """One write request: apply, create, label, delete or event (for an Event, ``kind`` is
    its type and ``name`` its reason; ``detail`` the labels patched or the message)."""

    verb: str
    kind: str
    namespace: str
    name: str
    detail: str = ""


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))


def merged(live: Any, applied: Any) -> Any:
    """``applied`` over ``live``: dicts merge key by key; anything else is replaced."""
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = merged(live.get(key), value)
        return out
    return copy.deepcopy(applied)


def _storage(pvc: dict[str, Any]) -> Any:
    return pvc.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")


def claim_refusal(live: dict[str, Any], applied: dict[str, Any]) -> str | None:
    """What the API server says when a claim would shrink or change class, else None."""
    old, new = _storage(live), _storage(applied)
    if old and new and parse_quantity(str(new)) < parse_quantity(str(old)):
        return "spec.resources.requests.storage: Forbidden: field can not be less than previous"
    old_class = live.get("spec", {}).get("storageClassName")
    new_class = applied.get("spec", {}).get("storageClassName")
    if old_class and new_class and old_class != new_class:
        return "spec: Forbidden: spec is immutable after creation except resources.requests"
    return None


class MemoryKube:
    """Objects by (kind, namespace, name); see the module docstring."""

    def __init__(
        self,
        objects: Iterable[dict[str, Any]] = (),
        *,
        refuse: Callable[[Write], Exception | None] | None = None,
    ) -> None:
        self.objects: dict[Key, dict[str, Any]] = {key_of(o): copy.deepcopy(o) for o in objects}
        self.writes: list[Write] = []
        self._refuse = refuse

    def put(self, obj: dict[str, Any]) -> None:
        """Store ``obj`` as if someone else had written it (not a write of the plugin's)."""
        self.objects[key_of(obj)] = copy.deepcopy(obj)

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object, for assertions (not a copy)."""
        return self.objects.get((kind, namespace, name))

    def object_writes(self) -> list[tuple[str, str, str]]:
        """(verb, kind, name) of every write but Events."""
        return [(w.verb, w.kind, w.name) for w in self.writes if w.verb != "event"]

    def events(self) -> list[tuple[str, str]]:
        """(type, reason) of every Event posted."""
        return [(w.kind, w.name) for w in self.writes if w.verb == "event"]

    def _write(self, write: Write) -> None:
        refusal = self._refuse(write) if self._refuse else None
        if refusal is not None:
            raise refusal
        self.writes.append(write)

    async def get(self, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    async def list(
        self, kind: str, *, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        wanted = (labels or {}).items()
        return [
            copy.deepcopy(obj)
            for (k, _, _), obj in sorted(self.objects.items())
            if k == kind and wanted <= (obj["metadata"].get("labels") or {}).items()
        ]

    async def apply(self, obj: dict[str, Any]) -> None:
        kind, namespace, name = key = key_of(obj)
        live = self.objects.get(key)
        if live is not None and kind == "PersistentVolumeClaim":
            refusal = claim_refusal(live, obj)
            if refusal:
                raise ApplyError(f"the API server refused {kind} {namespace}/{name}: {refusal}")
        self._write(Write("apply", kind, namespace, name))
        self.objects[key] = merged(live or {}, obj)

    async def create(self, obj: dict[str, Any]) -> bool:
        kind, namespace, name = key = key_of(obj)
        self._write(Write("create", kind, namespace, name))
        if key in self.objects:
            return False
        self.objects[key] = copy.deepcopy(obj)
        return True

    async def patch_labels(
        self, kind: str, name: str, namespace: str, labels: dict[str, str | None]
    ) -> None:
        self._write(Write("label", kind, namespace, name, repr(sorted(labels.items()))))
        live = self.objects.get((kind, namespace, name))
        if live is None:
            raise ApplyError(f"cannot label {kind} {namespace}/{name}: not found")
        current = live["metadata"].setdefault("labels", {})
        for label, value in labels.items():
            if value is None:
                current.pop(label, None)
            else:
                current[label] = value

    async def delete(self, kind: str, name: str, namespace: str) -> bool:
        self._write(Write("delete", kind, namespace, name))
        return self.objects.pop((kind, namespace, name), None) is not None

    async def record(self, view: ClusterView, event_type: str, reason: str, message: str) -> bool:
        self._write(Write("event", event_type, view.namespace, reason, message))
        return True
