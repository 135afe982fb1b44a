"""Container images the harness node runs, built locally and cached by their inputs.

Each image is an archive `images/<name>-<hash12>.tar` under the harness cache
(`$CNPG_WAL_REPLICA_CACHE`, default `~/.cache/cnpg-wal-replica`), importable with
`ctr -n k8s.io images import`; see `ocilayout` for the format. `<hash12>` starts the
SHA-256 of everything that goes into the image (recipe, input files' content, build
arguments, the base image's key), so `image_ref()` and `archive_path()` need no build, and
a changed input names a new archive. Nothing is ever pulled: refs are `localhost/...`.

    uv run --frozen python tests/support/images.py list
    uv run --frozen python tests/support/images.py build [--force] [NAME...]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `support` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import harnesspaths
from support import imagerecipes as recipes
from support.harnesspaths import REPO_ROOT, HarnessMissing, cache_root, pins
from support.ocilayout import DEFAULT_PATH, ImageConfig, architecture

RECIPE_VERSION = 2
"""Bump to rebuild every image (e.g. to pick up a Debian point release or a new toolchain)."""

PG_MAJOR = 15
"""The PostgreSQL major Debian 12 packages: operand server and the receiver's client."""

NONROOT = 65532
BUILD_HINT = "run `uv run --frozen python tests/support/images.py build {names}`"
Build = Callable[[Path, str, Path], None]
"""Writes the archive (path, ref, log file)."""


@dataclass(frozen=True)
class Image:
    """A buildable image: its cache key and how to build it (after `deps`)."""

    name: str
    repository: str
    inputs: Mapping[str, object]
    build: Build = field(compare=False)
    deps: tuple[str, ...] = ()
    tag_prefix: str = ""

    @property
    def key(self) -> str:
        text = json.dumps({"recipe": RECIPE_VERSION, **self.inputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def tag(self) -> str:
        return f"{self.tag_prefix}{self.key[:12]}"

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def archive(self) -> Path:
        return images_dir() / f"{self.name}-{self.key[:12]}.tar"


def images_dir() -> Path:
    return cache_root() / "images"


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _debian(name: str, packages: list[str], hooks: list[str], config: ImageConfig) -> Image:
    def build(archive: Path, ref: str, log: Path) -> None:
        recipes.debian_image(archive, ref, packages=packages, hooks=hooks, config=config, log=log)

    argv = recipes.mmdebstrap_argv(packages, hooks, Path("OUT"))
    inputs = {"mmdebstrap": argv, "config": config.to_json([]).decode()}
    prefix = f"{PG_MAJOR}-" if name == "postgresql" else ""
    return Image(name, f"localhost/harness/{name}", inputs, build, tag_prefix=prefix)


def debian_python() -> Image:
    """Debian 12's python3 (in /usr/bin) with venv and ca-certificates; runs as root."""
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    config = ImageConfig(cmd=["python3"], env=env)
    return _debian("debian-python", ["python3", "python3-venv", "ca-certificates"], [], config)


PG_LIB = f"/usr/lib/postgresql/{PG_MAJOR}/lib"
POSTGRES_HOOKS = [
    # User postgres = 26:26 as CNPG runs instances. postgresql-common's postinst keeps an
    # existing user but adds a group postgres; it takes gid 26 from Debian's "tape" at the end.
    '--essential-hook=echo "postgres:x:26:26:PostgreSQL administrator:/var/lib/postgresql:'
    '/bin/bash" >> "$1/etc/passwd"',
    '--customize-hook=chroot "$1" sh -c \'old=$(getent group postgres | cut -d: -f3) && sed -i'
    ' -e "/^tape:/d" -e "s/^postgres:x:$old:/postgres:x:26:/" /etc/group && sed -i "/^tape:/d"'
    ' /etc/gshadow && find / -xdev -gid "$old" -exec chgrp -h 26 {} +\'',
    # CNPG runs initdb itself: no Debian "main" cluster in the image.
    '--essential-hook=mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo'
    ' "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/harness.conf"',
    # No JIT (PostgreSQL runs without its provider): drops libLLVM and libz3, ~155 MB.
    f'--customize-hook=rm -rf "$1{PG_LIB}/llvmjit.so" "$1{PG_LIB}/llvmjit_types.bc"'
    f' "$1{PG_LIB}/bitcode" && chroot "$1" dpkg --purge --force-depends libllvm14 libz3-4',
]


def postgresql() -> Image:
    """PostgreSQL 15 operand for CNPG: binaries on PATH, C.UTF-8, user postgres = 26:26.

    The tag `15-<hash12>` lets CNPG derive major 15 (machinery's version.FromTag)."""
    env = {"PATH": f"/usr/lib/postgresql/{PG_MAJOR}/bin:{DEFAULT_PATH}", "LANG": "C.UTF-8"}
    config = ImageConfig(env=env, user="26:26", workdir="/var/lib/postgresql")
    return _debian("postgresql", [f"postgresql-{PG_MAJOR}"], POSTGRES_HOOKS, config)


def pause_source() -> Path:
    gomodcache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    module = gomodcache / f"k8s.io/kubernetes@{pins()['KUBE_VERSION']}"
    source = module / "build" / "pause" / "linux" / "pause.c"
    if not source.is_file():
        raise HarnessMissing(f"no {source}: run `scripts/kube-harness build` (downloads it)")
    return source


def pause() -> Image:
    """Kubernetes' pause.c from the k8s.io/kubernetes module, static, as /pause, uid 65535."""
    source, version = pause_source(), pins()["KUBE_VERSION"]
    defines = [f"-DVERSION={version}-cnpg-wal-replica-harness"]
    config = ImageConfig(entrypoint=["/pause"], user="65535:65535")

    def build(archive: Path, ref: str, log: Path) -> None:
        binary = archive.with_suffix(".pause")
        recipes.compile_static(source, binary, log, defines)
        recipes.files_image(archive, ref, files={"/pause": binary}, config=config, dirs={})
        binary.unlink()

    inputs = {"pause.c": file_digest(source), "defines": defines, "config": _json(config)}
    return Image("pause", "localhost/harness/pause", inputs, build)


def binary_image(
    name: str, files: Mapping[str, Path], entrypoint: list[str], user: int = NONROOT
) -> Image:
    """Static binaries (image path -> host file) in an image with /tmp and nothing else."""
    config = ImageConfig(entrypoint=entrypoint, user=f"{user}:{user}", env={"PATH": DEFAULT_PATH})
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise HarnessMissing(f"image {name}: missing {', '.join(missing)}")

    def build(archive: Path, ref: str, log: Path) -> None:
        recipes.files_image(archive, ref, files=files, config=config)

    digests = {path: file_digest(source) for path, source in sorted(files.items())}
    inputs = {"files": digests, "config": _json(config)}
    return Image(name, f"localhost/harness/{name}", inputs, build)


def _json(config: ImageConfig) -> str:
    return config.to_json([]).decode()


def cnpg_wal_replica() -> Image:
    """The project's own Dockerfile on the Debian base, with Debian's postgresql-client-15."""
    base = debian_python()
    args = {
        "PYTHON_IMAGE": base.ref,
        "BASE_NAME": base.ref,
        "PG_CLIENT_SOURCE": "debian",
        "PG_CLIENT_MAJOR": str(PG_MAJOR),
    }

    def build(archive: Path, ref: str, log: Path) -> None:
        recipes.buildah_load(base.archive, base.ref, log)
        ca = recipes.build_ca()
        recipes.buildah_image(
            archive, ref, context=REPO_ROOT, build_args=args, ca_bundle=ca, log=log
        )

    files = {
        str(p.relative_to(REPO_ROOT)): file_digest(p) for p in recipes.context_files(REPO_ROOT)
    }
    inputs = {"build_args": args, "context": files, "base": base.key}
    return Image(
        "cnpg-wal-replica", "localhost/cnpg-wal-replica", inputs, build, ("debian-python",)
    )


def cnpg_operator() -> Image:
    """CNPG's operator as its own image has it: /manager, user 65532, and the manager again as
    /operator/manager_<arch>, where the operator finds the binaries it can hand to instances
    (without it: "invalid architecture")."""
    manager = harnesspaths.module_cache_dir("cnpg") / "manager"
    files = {"/manager": manager, f"/operator/manager_{architecture()}": manager}
    return binary_image("cnpg-operator", files, ["/manager"])


def local_path_provisioner() -> Image:
    binary = harnesspaths.module_cache_dir("local-path") / "local-path-provisioner"
    return binary_image(
        "local-path-provisioner",
        {"/usr/bin/local-path-provisioner": binary},
        ["local-path-provisioner"],
    )


CATALOG: dict[str, Callable[[], Image]] = {
    "debian-python": debian_python,
    "postgresql": postgresql,
    "pause": pause,
    "cnpg-wal-replica": cnpg_wal_replica,
    "cnpg-operator": cnpg_operator,
    "local-path-provisioner": local_path_provisioner,
}
"""Every image by name; the binary images wrap binaries built by scripts/kube-harness."""

BUILT_HERE = ("debian-python", "postgresql", "pause", "cnpg-wal-replica")
NODE_IMAGES = [*BUILT_HERE, "cnpg-operator", "local-path-provisioner"]


def image(name: str) -> Image:
    if name not in CATALOG:
        raise KeyError(f"unknown image {name!r}; known: {', '.join(CATALOG)}")
    return CATALOG[name]()


def image_ref(name: str) -> str:
    return image(name).ref


def archive_path(name: str) -> Path:
    return image(name).archive


def require(names: Iterable[str]) -> None:
    """Raise HarnessMissing naming every image whose archive is not built."""
    missing = [name for name in names if not image(name).archive.is_file()]
    if missing:
        raise HarnessMissing(
            f"images not built: {', '.join(missing)}: " + BUILD_HINT.format(names=" ".join(missing))
        )


def build(target: str | Image, *, force: bool = False) -> Path:
    """Build an image (and its dependencies) unless its archive is cached; return the archive."""
    img = image(target) if isinstance(target, str) else target
    for dep in img.deps:
        build(dep)
    images_dir().mkdir(parents=True, exist_ok=True)
    with (images_dir() / f".{img.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if img.archive.is_file() and not force:
            recipes.say(f"{img.ref}: cached {img.archive}")
            return img.archive
        partial = img.archive.with_suffix(".partial")
        with recipes.step(f"{img.ref}: build"):
            img.build(partial, img.ref, img.archive.with_suffix(".log"))
            partial.replace(img.archive)
        size = img.archive.stat().st_size / 1e6
        recipes.say(f"{img.ref}: {img.archive} ({size:.0f} MB)")
        older = re.compile(rf"{re.escape(img.name)}-[0-9a-f]{{12}}\.(tar|log)")
        for stale in images_dir().glob(f"{img.name}-*"):
            if older.fullmatch(stale.name) and stale.stem != img.archive.stem:
                stale.unlink()
    return img.archive


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build what is not cached")
    build_cmd.add_argument("names", nargs="*", help=f"default: {' '.join(NODE_IMAGES)}")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even if cached")
    commands.add_parser("list", help="refs, archives and whether they are built")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            for name in args.names or NODE_IMAGES:
                build(name, force=args.force)
        except (HarnessMissing, KeyError, RuntimeError) as error:
            recipes.say(f"error: {error}")
            return 1
        return 0
    for name in CATALOG:
        try:
            img = image(name)
        except HarnessMissing as missing:
            print(f"{name:24} -  ({missing})")
            continue
        state = (
            f"{img.archive.stat().st_size / 1e6:.0f} MB" if img.archive.is_file() else "not built"
        )
        print(f"{name:24} {img.ref}  {img.archive}  {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
