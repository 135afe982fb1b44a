"""How each kind of harness image is made: Debian rootfs, static files, or `buildah bud`.

Every function writes one archive (see `ocilayout`) at a path it is given; `images` decides
names, cache keys and when to call them. Long steps print their elapsed time on stderr and
send tool output to a log file, whose tail is shown when the tool fails.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from support.ocilayout import (
    ImageConfig,
    digest_of,
    docker_archive_to_archive,
    file_entries,
    manifest_for,
    rootfs_entries,
    write_archive,
    write_layer,
)

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
"""The mirrors the host's apt uses (deb.debian.org through the transparent proxy)."""

CA_BUNDLE_ENV = "CNPG_WAL_REPLICA_BUILD_CA"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
"""Written to /etc/dpkg/dpkg.cfg.d in the rootfs: later `apt-get install`s skip docs too."""


def say(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Print `label` on stderr when it starts and, with the elapsed seconds, when it ends."""
    started = time.monotonic()
    say(f"{label} ...")
    try:
        yield
    except BaseException:
        say(f"{label} FAILED after {time.monotonic() - started:.1f} s")
        raise
    say(f"{label} done in {time.monotonic() - started:.1f} s")


def run_logged(argv: Sequence[str], log: Path, label: str, heartbeat: float = 30) -> None:
    """Run a tool with its output appended to `log`, saying every `heartbeat` seconds that it
    still runs; raise with the log's tail if it fails."""
    started = time.monotonic()
    with step(label), log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        with subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT) as process:
            while True:
                try:
                    returncode = process.wait(timeout=heartbeat)
                    break
                except subprocess.TimeoutExpired:
                    say(f"{label}: still running ({time.monotonic() - started:.0f} s, log {log})")
        if returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise RuntimeError(f"{argv[0]} exited {returncode} (log: {log}):\n{tail}")


def mmdebstrap_argv(packages: Sequence[str], hooks: Sequence[str], output: Path) -> list[str]:
    """The mmdebstrap command for a minbase rootfs with `packages`. `hooks` are options like
    `--essential-hook=SHELL` or `--customize-hook=SHELL` (the rootfs is "$1")."""
    argv = ["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}"]
    argv += [f"--dpkgopt={option}" for option in DPKG_OPTIONS]
    return [*argv, *hooks, DEBIAN_SUITE, str(output), *DEBIAN_MIRRORS]


def single_layer_archive(archive: Path, ref: str, layer: Path, config: ImageConfig) -> None:
    digest = digest_of(layer)
    config_blob = config.to_json([digest])
    manifest = manifest_for(config_blob, [(digest, layer.stat().st_size)])
    write_archive(archive, ref, manifest, {digest_of(config_blob): config_blob, digest: layer})


def debian_image(
    archive: Path,
    ref: str,
    *,
    packages: Sequence[str],
    hooks: Sequence[str],
    config: ImageConfig,
    log: Path,
) -> None:
    """A single-layer image whose rootfs mmdebstrap installs from Debian packages."""
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        rootfs, layer = Path(tmp, "rootfs.tar"), Path(tmp, "layer.tar")
        argv = mmdebstrap_argv(packages, hooks, rootfs)
        run_logged(argv, log, f"{ref}: mmdebstrap {','.join(packages)}")
        with step(f"{ref}: layer and archive"):
            write_layer(layer, rootfs_entries(rootfs))
            rootfs.unlink()
            single_layer_archive(archive, ref, layer, config)


def files_image(
    archive: Path,
    ref: str,
    *,
    files: Mapping[str, Path],
    config: ImageConfig,
    dirs: Mapping[str, int] | None = None,
) -> None:
    """A single-layer image of host files at given paths (no shell, no libraries)."""
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        layer = Path(tmp, "layer.tar")
        with step(f"{ref}: layer and archive"):
            write_layer(layer, file_entries(files, {"tmp": 0o1777} if dirs is None else dirs))
            single_layer_archive(archive, ref, layer, config)


def compile_static(source: Path, output: Path, log: Path, defines: Sequence[str] = ()) -> None:
    """`gcc -static -O2` one C file (as Kubernetes builds its pause binary), stripped."""
    argv = ["gcc", "-static", "-O2", "-Wall", "-Werror", "-s", *defines, "-o", str(output)]
    run_logged([*argv, str(source)], log, f"gcc {source.name}")


def buildah_has(ref: str) -> bool:
    probe = ["buildah", "inspect", "--type", "image", ref]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def buildah_load(archive: Path, ref: str, log: Path) -> None:
    """Make an archive's image available to `buildah bud` by `ref` (skip if it already is)."""
    if not buildah_has(ref):
        run_logged(["buildah", "pull", "--quiet", f"docker-archive:{archive}"], log, f"load {ref}")


def buildah_image(
    archive: Path,
    ref: str,
    *,
    context: Path,
    build_args: Mapping[str, str],
    ca_bundle: Path | None,
    log: Path,
) -> None:
    """`buildah bud` of context/Dockerfile (RUN steps on the host network), then the archive.

    `ca_bundle` is passed as the build secret `build-ca` (see the Dockerfile)."""
    argv = ["buildah", "bud", "--layers", "--network", "host", "--pull=false", "-t", ref]
    argv += [f"--build-arg={key}={value}" for key, value in build_args.items()]
    if ca_bundle is not None:
        argv.append(f"--secret=id=build-ca,src={ca_bundle}")
    run_logged([*argv, "-f", str(context / "Dockerfile"), str(context)], log, f"buildah bud {ref}")
    with tempfile.TemporaryDirectory(dir=archive.parent) as tmp:
        exported = Path(tmp, "docker-archive.tar")
        push = ["buildah", "push", "--quiet", ref, f"docker-archive:{exported}:{ref}"]
        run_logged(push, log, f"{ref}: export")
        with step(f"{ref}: archive"):
            docker_archive_to_archive(exported, ref, archive, Path(tmp, "unpacked"))


def context_files(root: Path) -> list[Path]:
    """The build context as the allow-list .dockerignore keeps it (`*`, `!path`, `**/name`)."""
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    if patterns[0] != "*" or not all(p.startswith(("!", "**/")) for p in patterns[1:]):
        raise ValueError(".dockerignore is no longer `*`, `!path` and `**/name` lines")
    dropped = [p.removeprefix("**/") for p in patterns if p.startswith("**/")]
    kept: list[Path] = []
    for top in (root / p[1:].rstrip("/") for p in patterns if p.startswith("!")):
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            parts = path.relative_to(root).parts
            if path.is_file() and not any(
                Path(*parts[: i + 1]).match(d) for i in range(len(parts)) for d in dropped
            ):
                kept.append(path)
    return [root / "Dockerfile", root / ".dockerignore", *kept]


def build_ca() -> Path | None:
    """The CA bundle given to HTTPS steps of `buildah bud` (never in the image): the host's,
    or $CNPG_WAL_REPLICA_BUILD_CA; set that to an empty string to pass none."""
    value = os.environ.get(CA_BUNDLE_ENV)
    path = DEFAULT_CA_BUNDLE if value is None else Path(value) if value else None
    return path if path is not None and path.is_file() else None
