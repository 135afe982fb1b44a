"""Run commands from an image archive under runc, as a container runtime would (for tests).

`unpack` applies an archive's layers (with OCI whiteouts) to a directory once; `run` starts
a container on it with the image's config (user, env, working directory, entrypoint), a
read-only root by default, a tmpfs /tmp and optional bind mounts. Needs root and runc.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.ocilayout import read_archive


@dataclass(frozen=True)
class Unpacked:
    rootfs: Path
    config: dict[str, Any]


def _inside(root: Path, path: Path) -> bool:
    resolved = os.path.realpath(path)
    return resolved == str(root) or resolved.startswith(f"{root}/")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def unpack(archive: Path, dest: Path) -> Unpacked:
    """Extract every layer of `archive` in order into `dest`/rootfs."""
    image = read_archive(archive)
    rootfs = (dest / "rootfs").resolve()
    rootfs.mkdir(parents=True)
    for info, content in image.layer_members():
        name = posixpath.normpath(info.name).lstrip("/")
        if name in ("", "."):
            continue
        path = rootfs / name
        if not _inside(rootfs, path.parent):
            raise ValueError(f"{archive}: {name} leaves the root file system")
        base = path.name
        if base == ".wh..wh..opq":
            for child in path.parent.iterdir():
                _remove(child)
        elif base.startswith(".wh."):
            _remove(path.parent / base.removeprefix(".wh."))
        else:
            if not (info.isdir() and path.is_dir() and not path.is_symlink()):
                _remove(path)
            _extract(info, content, rootfs, name)
    return Unpacked(rootfs, image.config)


def _extract(info: tarfile.TarInfo, content: Any, rootfs: Path, name: str) -> None:
    path = rootfs / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if info.isdir():
        path.mkdir(exist_ok=True)
    elif info.issym():
        path.symlink_to(info.linkname)
    elif info.islnk():
        os.link(rootfs / info.linkname.removeprefix("./"), path)
    elif info.isreg():
        with path.open("wb") as out:
            shutil.copyfileobj(content, out)
    elif info.ischr() or info.isblk() or info.isfifo():
        return  # devices come from the runtime
    os.lchown(path, info.uid, info.gid)
    if not info.issym():
        os.chmod(path, info.mode)


def _user(spec: str) -> dict[str, int]:
    uid, _, gid = spec.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        raise ValueError(f"user {spec!r}: only numeric uid[:gid] is supported here")
    return {"uid": int(uid), "gid": int(gid or uid)}


def run(
    image: Unpacked,
    args: Sequence[str] | None = None,
    *,
    command: Sequence[str] | None = None,
    user: str | None = None,
    readonly: bool = True,
    binds: Mapping[str, Path] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the image's entrypoint with `args` (or its Cmd), or `command` instead of both."""
    runtime = image.config.get("config", {})
    argv = list(
        command or [*(runtime.get("Entrypoint") or []), *(args or runtime.get("Cmd") or [])]
    )
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp)
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["root"] = {"path": str(image.rootfs), "readonly": readonly}
        process = spec["process"]
        process.update(terminal=False, args=argv, cwd=runtime.get("WorkingDir") or "/")
        process["env"] = runtime.get("Env") or []
        process["user"] = _user(user or runtime.get("User") or "0")
        tmpfs = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
        spec["mounts"].append({**tmpfs, "options": ["nosuid", "nodev", "mode=1777"]})
        for destination, source in (binds or {}).items():
            bind = {"destination": destination, "type": "bind", "source": str(source)}
            spec["mounts"].append({**bind, "options": ["rbind", "rw"]})
        (bundle / "config.json").write_text(json.dumps(spec))
        name = f"imagerun-{uuid.uuid4().hex[:12]}"
        state = ["runc", "--root", str(bundle / "state")]
        try:
            return subprocess.run(
                [*state, "run", "--bundle", str(bundle), name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        finally:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    [*state, "delete", "--force", name], capture_output=True, check=False
                )
