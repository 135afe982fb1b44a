"""The JSON patch that puts the restore sidecar into a reading Cluster's pod or Job (pure).

The operator sends an instance Pod twice: EVALUATE while it computes the pod it wants
(the patched spec is what it compares running pods with, so the patch must not change
between calls), and CREATE with that spec, our sidecar already in it. Both get the same
answer: whole-array `add` operations (RFC 6902 replaces an existing member) computed from
the object as sent, with our own container and volumes replaced by name, so applying the
patch twice gives what applying it once gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ClusterDecodeError
from cnpg_wal_replica.reading import PLUGIN_SOCKET_DIRECTORY
from cnpg_wal_replica.source import Use, WalSource, wal_source
from cnpg_wal_replica.specs.reader import (
    PLUGINS_VOLUME,
    SIDECAR_NAME,
    sidecar_container,
    sidecar_volumes,
)

POSTGRES_CONTAINER = "postgres"
"""The instance pod's PostgreSQL container (CNPG `specs.PostgresContainerName`)."""
JOB_ROLE_LABEL = "cnpg.io/jobRole"
RESTORING_JOB_ROLES = ("full-recovery", "snapshot-recovery")
"""Bootstrap Jobs that replay WAL through `restore_command`; the others (initdb, join,
pg_basebackup, import, major upgrade) never restore WAL. Their main container is named
after the role."""


class NotInjectableError(ClusterDecodeError):
    """The object lacks what the sidecar needs (its PostgreSQL container)."""


@dataclass(frozen=True)
class Target:
    """Where in an object the sidecar goes, and which source it reads."""

    pointer: str
    """JSON pointer of the pod spec."""
    spec: dict[str, Any]
    main: str
    """The PostgreSQL container's name."""
    source: WalSource


def target(view: ClusterView, obj: dict[str, Any]) -> Target | None:
    """Where to inject into ``obj``: an instance Pod of a replica cluster reading through
    us, or a restoring Job of a Cluster recovering through us; None otherwise.

    Raises ConfigError when the source's parameters are invalid.
    """
    kind = obj.get("kind")
    if kind == "Pod":
        source = wal_source(view, Use.REPLICA)
        spec = obj.get("spec") or {}
        return Target("/spec", spec, POSTGRES_CONTAINER, source) if source else None
    if kind == "Job":
        template = (obj.get("spec") or {}).get("template") or {}
        role = ((template.get("metadata") or {}).get("labels") or {}).get(JOB_ROLE_LABEL)
        if role not in RESTORING_JOB_ROLES:
            return None
        source = wal_source(view, Use.RECOVERY)
        spec = template.get("spec") or {}
        return Target("/spec/template/spec", spec, str(role), source) if source else None
    return None


def sidecar_patch(
    view: ClusterView, found: Target, image: str, obj: dict[str, Any]
) -> list[dict[str, Any]]:
    """RFC 6902 operations that inject the sidecar at ``found`` in ``obj``.

    Raises NotInjectableError when the pod spec has no PostgreSQL container.
    """
    pointer, spec, main_name, source = found.pointer, found.spec, found.main, found.source
    containers = list(spec.get("containers") or [])
    index = next((i for i, c in enumerate(containers) if c.get("name") == main_name), None)
    if index is None:
        raise NotInjectableError(
            f"{obj.get('kind')} {obj.get('metadata', {}).get('name', '')!r} has no container "
            f"named {main_name!r} to restore WAL for"
        )
    main = containers[index]
    added = sidecar_volumes(view)
    ours = {v["name"] for v in added}
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") not in ours]
    mounts = list(main.get("volumeMounts") or [])
    shared = next(
        (m.get("name") for m in mounts if m.get("mountPath") == PLUGIN_SOCKET_DIRECTORY), None
    )
    if shared is None:
        shared = PLUGINS_VOLUME
        mounts.append({"name": shared, "mountPath": PLUGIN_SOCKET_DIRECTORY})
    if not any(v.get("name") == shared for v in volumes):
        volumes.append({"name": shared, "emptyDir": {}})
    volumes += added
    init = [c for c in spec.get("initContainers") or [] if c.get("name") != SIDECAR_NAME]
    init.append(sidecar_container(source, image, main, plugins_volume=str(shared)))
    return [
        {"op": "add", "path": f"{pointer}/volumes", "value": volumes},
        {"op": "add", "path": f"{pointer}/containers/{index}/volumeMounts", "value": mounts},
        {"op": "add", "path": f"{pointer}/initContainers", "value": init},
    ]
