"""Run a Deployment's container locally, as the kubelet would lay it out.

`materialize` takes the Deployment as the API server stored it and the Secrets it mounts,
and writes every volume under a root directory at its mountPath: secret volumes with only
their `items` and their `defaultMode`, owned by root and the pod's fsGroup; emptyDir and
PVC volumes as empty group-writable directories. Environment values that point into a
mount are rebased under the root. The result is the container's exact `command + args` and
`env`, ready to exec as the pod's runAsUser/runAsGroup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LocalPod:
    argv: list[str]
    env: dict[str, str]
    user: int | None
    group: int | None
    extra_groups: list[int] = field(default_factory=list)
    mounts: dict[str, Path] = field(default_factory=dict)
    """mountPath in the pod → directory on this machine."""


def materialize(
    deployment: dict[str, Any], secrets: dict[str, dict[str, bytes]], root: Path
) -> LocalPod:
    """Lay out the first container's volumes under `root`; `secrets` maps name → data."""
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    fs_group = pod.get("securityContext", {}).get("fsGroup")
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    mounts: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        _lay_out(volumes[mount["name"]], target, secrets, fs_group)
        mounts[mount["mountPath"]] = target
    env = {item["name"]: _rebase(item["value"], mounts) for item in container.get("env", [])}
    return LocalPod(
        argv=[*container.get("command", []), *container.get("args", [])],
        env=env,
        user=security.get("runAsUser"),
        group=security.get("runAsGroup"),
        extra_groups=[fs_group] if fs_group is not None else [],
        mounts=mounts,
    )


def _lay_out(
    volume: dict[str, Any], target: Path, secrets: dict[str, dict[str, bytes]], fs_group: int | None
) -> None:
    group = fs_group if fs_group is not None else -1
    if "secret" in volume:
        source = volume["secret"]
        data = secrets[source["secretName"]]
        mode = source.get("defaultMode", 0o644)
        items = source.get("items") or [{"key": key, "path": key} for key in data]
        target.chmod(0o755)
        for item in items:
            path = target / item["path"]
            path.write_bytes(data[item["key"]])
            os.chown(path, 0, group)
            path.chmod(item.get("mode", mode))
    elif "emptyDir" in volume or "persistentVolumeClaim" in volume:
        os.chown(target, 0, group)
        target.chmod(0o2770 if fs_group is not None else 0o777)
    else:
        raise ValueError(f"volume {volume['name']}: only secret, emptyDir and PVC are laid out")


def _rebase(value: str, mounts: dict[str, Path]) -> str:
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
    return value
