"""Write and read OCI image archives that `ctr images import` and buildah accept.

An archive is an OCI image layout in a tar (`oci-layout`, `index.json`, `blobs/sha256/*`)
plus a Docker `manifest.json` naming the same blobs, so it also loads as a docker-archive.
The index entry carries the full reference twice: `io.containerd.image.name` (containerd 2's
importer names the image from it) and the tag alone in `org.opencontainers.image.ref.name`.
Layers are uncompressed tars: no time spent (de)compressing, and diff ID = layer digest.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import posixpath
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"
CONTAINERD_NAME = "io.containerd.image.name"
REF_NAME = "org.opencontainers.image.ref.name"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Entry = tuple[tarfile.TarInfo, IO[bytes] | None]


def architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def digest_of(data: bytes | Path) -> str:
    hasher = hashlib.sha256()
    if isinstance(data, bytes):
        hasher.update(data)
    else:
        with data.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def write_layer(dest: Path, entries: Iterable[Entry]) -> str:
    """Write an uncompressed layer tar; return its digest (which is also its diff ID)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, content in entries:
            tar.addfile(info, content)
    return digest_of(dest)


def rootfs_entries(rootfs_tar: Path, drop: tuple[str, ...] = ("dev/",)) -> Iterator[Entry]:
    """Members of a rootfs tar (mmdebstrap's), `./` stripped, `drop` prefixes left out."""
    with tarfile.open(rootfs_tar, "r|*") as tar:
        for info in tar:
            name = posixpath.normpath(info.name).lstrip("/")
            if name == "." or name.startswith(drop):
                continue
            info.name = name
            if info.islnk():
                info.linkname = posixpath.normpath(info.linkname).lstrip("/")
            info.uname = info.gname = ""
            yield info, tar.extractfile(info) if info.isreg() else None


def file_entries(files: Mapping[str, Path], dirs: Mapping[str, int]) -> Iterator[Entry]:
    """Directories (path -> mode) and then files (image path -> host file), owned by root."""
    for path, mode in sorted(dirs.items()):
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.mode = tarfile.DIRTYPE, mode
        yield info, None
    for path, source in sorted(files.items()):
        info = tarfile.TarInfo(path.strip("/"))
        data = source.read_bytes()
        info.size, info.mode = len(data), source.stat().st_mode & 0o7777
        yield info, io.BytesIO(data)


@dataclass(frozen=True)
class ImageConfig:
    """The runtime part of an image config (`config` in the OCI image spec)."""

    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    user: str = ""
    workdir: str = "/"
    labels: Mapping[str, str] = field(default_factory=dict)

    def to_json(self, diff_ids: list[str]) -> bytes:
        runtime: dict[str, Any] = {
            "Env": [f"{k}={v}" for k, v in self.env.items()],
            "WorkingDir": self.workdir,
            "Labels": dict(self.labels),
        }
        if self.user:
            runtime["User"] = self.user
        if self.entrypoint is not None:
            runtime["Entrypoint"] = self.entrypoint
        if self.cmd is not None:
            runtime["Cmd"] = self.cmd
        config = {
            "created": "1970-01-01T00:00:00Z",
            "architecture": architecture(),
            "os": "linux",
            "config": runtime,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "tests/support/images.py"} for _ in diff_ids],
        }
        return json.dumps(config, sort_keys=True).encode()


def manifest_for(config: bytes, layers: list[tuple[str, int]]) -> bytes:
    """An OCI manifest for a config blob and (digest, size) of uncompressed layers."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": LAYER, "digest": d, "size": s} for d, s in layers],
    }
    return json.dumps(manifest, sort_keys=True).encode()


def _blob_name(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def write_archive(dest: Path, ref: str, manifest: bytes, blobs: Mapping[str, Path | bytes]) -> None:
    """Write the archive of one image: `manifest` plus every blob it names (digest -> data)."""
    parsed = json.loads(manifest)
    tag = ref.rpartition(":")[2]
    descriptor = {
        "mediaType": MANIFEST,
        "digest": digest_of(manifest),
        "size": len(manifest),
        "platform": {"architecture": architecture(), "os": "linux"},
        "annotations": {CONTAINERD_NAME: ref, REF_NAME: tag},
    }
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [descriptor]}
    docker = [
        {
            "Config": _blob_name(parsed["config"]["digest"]),
            "RepoTags": [ref],
            "Layers": [_blob_name(layer["digest"]) for layer in parsed["layers"]],
        }
    ]
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        _add_bytes(tar, _blob_name(digest_of(manifest)), manifest)
        for digest, data in blobs.items():
            if isinstance(data, bytes):
                _add_bytes(tar, _blob_name(digest), data)
                continue
            info = tarfile.TarInfo(_blob_name(digest))
            info.size, info.mode = data.stat().st_size, 0o644
            with data.open("rb") as handle:
                tar.addfile(info, handle)
        _add_bytes(tar, "index.json", json.dumps(index, sort_keys=True).encode())
        _add_bytes(tar, "manifest.json", json.dumps(docker, sort_keys=True).encode())


def docker_archive_to_archive(source: Path, ref: str, dest: Path, workdir: Path) -> None:
    """Repack a docker-archive of one image with uncompressed layers (`buildah push ...
    docker-archive:FILE`) as an archive of this module; `workdir` holds the unpacked copy."""
    with tarfile.open(source) as tar:
        tar.extractall(workdir, filter="data")
    (entry,) = json.loads((workdir / "manifest.json").read_text())
    config = (workdir / entry["Config"]).read_bytes()
    layers = [workdir / name for name in entry["Layers"]]
    digests = [digest_of(layer) for layer in layers]
    if json.loads(config)["rootfs"]["diff_ids"] != digests:
        raise ValueError(f"{source}: layers are not the uncompressed layers its config lists")
    manifest = manifest_for(
        config, [(d, p.stat().st_size) for d, p in zip(digests, layers, strict=True)]
    )
    write_archive(
        dest, ref, manifest, {digest_of(config): config, **dict(zip(digests, layers, strict=True))}
    )


@dataclass(frozen=True)
class Archive:
    """What an archive says about its image, read back for checks."""

    path: Path
    index: dict[str, Any]
    docker_manifest: list[dict[str, Any]]
    manifest: dict[str, Any]
    config: dict[str, Any]

    def layer_members(self) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
        """Every member of every layer, in layer order (content readable while current)."""
        with tarfile.open(self.path) as outer:
            for layer in self.manifest["layers"]:
                blob = outer.extractfile(_blob_name(layer["digest"]))
                assert blob is not None
                with tarfile.open(fileobj=blob, mode="r|*") as tar:
                    for info in tar:
                        yield info, tar.extractfile(info) if info.isreg() else None


def read_archive(path: Path) -> Archive:
    def member(tar: tarfile.TarFile, name: str) -> Any:
        handle = tar.extractfile(name)
        assert handle is not None, name
        return json.loads(handle.read())

    with tarfile.open(path) as tar:
        index = member(tar, "index.json")
        manifest = member(tar, _blob_name(index["manifests"][0]["digest"]))
        config = member(tar, _blob_name(manifest["config"]["digest"]))
        docker = member(tar, "manifest.json")
    return Archive(path, index, docker, manifest, config)
