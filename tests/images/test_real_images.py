"""The built harness images, run under runc the way the node's runtime will run them.

Skipped for images not built yet (`uv run --frozen python tests/support/images.py build`);
needs root and runc. Each archive is unpacked once per module.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import imagerecipes, imagerun, images, ocilayout

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runc"), reason="needs root, runc"),
]

SIZE_MB = {"debian-python": (100, 250), "postgresql": (100, 300), "cnpg-wal-replica": (200, 500)}
"""Bounds on the unpacked size: catches a lost exclusion (docs, caches) or a missing layer."""
CNPG_INITDB = ["--encoding=UTF8", "--lc-collate=C", "--lc-ctype=C"]
"""What CNPG 1.30 passes to initdb by default (api/v1/cluster_defaults.go)."""


def _archive(name: str) -> Path:
    path = images.archive_path(name)
    if not path.is_file():
        pytest.skip(f"image {name} not built: {path}")
    return path


class Unpacked(dict[str, imagerun.Unpacked]):
    """Images unpacked on first use."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        super().__init__()
        self.factory = factory

    def __missing__(self, name: str) -> imagerun.Unpacked:
        self[name] = imagerun.unpack(_archive(name), self.factory.mktemp(name))
        return self[name]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return Unpacked(tmp_path_factory)


def _layers_size_mb(archive: Path) -> float:
    total = sum(info.size for info, _ in ocilayout.read_archive(archive).layer_members())
    return total / 1e6


@pytest.mark.parametrize("name", sorted(SIZE_MB))
def test_image_size_is_within_bounds(name: str) -> None:
    low, high = SIZE_MB[name]
    size = _layers_size_mb(_archive(name))
    print(f"{name}: {size:.0f} MB unpacked, archive {_archive(name).stat().st_size / 1e6:.0f} MB")
    assert low <= size <= high


def test_cnpg_wal_replica_config(unpacked: Unpacked) -> None:
    config = unpacked["cnpg-wal-replica"].config["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["cnpg-wal-replica"]
    assert config["WorkingDir"] == "/tmp"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.base.name"] == images.image_ref("debian-python")


@pytest.mark.parametrize("user", [None, "26:26"])
def test_cnpg_wal_replica_runs_with_a_read_only_root(unpacked: Unpacked, user: str | None) -> None:
    image = unpacked["cnpg-wal-replica"]
    result = imagerun.run(image, ["--help"], user=user)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert "receive" in result.stdout
    wrote = imagerun.run(image, command=["sh", "-c", "touch /opt/x"], user=user)
    assert "Read-only file system" in wrote.stderr


def _major(text: str) -> int:
    match = re.search(r"\(PostgreSQL\) (\d+)", text)
    assert match, text
    return int(match[1])


def test_pg_receivewal_streams_from_the_operand_major(
    unpacked: Unpacked,
) -> None:
    client = imagerun.run(unpacked["cnpg-wal-replica"], command=["pg_receivewal", "--version"])
    assert client.returncode == 0, client.stderr
    server = imagerun.run(unpacked["postgresql"], command=["postgres", "--version"])
    assert server.returncode == 0, server.stderr
    assert _major(client.stdout) >= _major(server.stdout) == images.PG_MAJOR


def _build_ca_local_certs() -> list[bytes]:
    """First base64 line of each locally added CA (a TLS-intercepting proxy's, here)."""
    lines = []
    for crt in Path("/usr/local/share/ca-certificates").glob("**/*.crt"):
        for block in re.findall(rb"-----BEGIN CERTIFICATE-----\r?\n([^\r\n]+)", crt.read_bytes()):
            lines.append(block)
    return lines


def test_no_layer_contains_the_build_ca() -> None:
    ca = imagerecipes.build_ca() or imagerecipes.DEFAULT_CA_BUNDLE
    if not ca.is_file():
        pytest.skip("no CA bundle on this host")
    bundle_digest = hashlib.sha256(ca.read_bytes()).hexdigest()
    local_certs = _build_ca_local_certs()
    archive = ocilayout.read_archive(_archive("cnpg-wal-replica"))
    for info, content in archive.layer_members():
        name = info.name.removeprefix("./")
        assert not (name.startswith("run/secrets/") and not info.isdir()), name
        if content is None:
            continue
        data = content.read()
        assert hashlib.sha256(data).hexdigest() != bundle_digest, f"{name} is the build CA"
        for cert in local_certs:
            assert cert not in data, f"{name} holds a CA from {ca}"


def test_postgresql_image_meets_cnpg_requirements(
    unpacked: Unpacked,
) -> None:
    image = unpacked["postgresql"]
    config = image.config["config"]
    assert config["User"] == "26:26"
    env = dict(item.split("=", 1) for item in config["Env"])
    path = env["PATH"].split(":")
    assert path[0] == f"/usr/lib/postgresql/{images.PG_MAJOR}/bin"
    for tool in ("initdb", "postgres", "pg_ctl", "pg_controldata", "pg_basebackup", "du"):
        found = [d for d in path if (image.rootfs / d.lstrip("/") / tool).exists()]
        assert found, f"{tool} not on the image's PATH"
    passwd = (image.rootfs / "etc" / "passwd").read_text()
    assert re.search(r"^postgres:x:26:26:", passwd, re.M)
    group = (image.rootfs / "etc" / "group").read_text()
    assert re.findall(r"^(\w[\w-]*):x:26:", group, re.M) == ["postgres"]
    assert not (image.rootfs / "var/lib/postgresql" / str(images.PG_MAJOR) / "main").exists()


def test_postgresql_initdb_and_start_as_uid_26(unpacked: Unpacked, tmp_path: Path) -> None:
    data = tmp_path / "pgdata"
    data.mkdir()
    os.chown(data, 26, 26)
    script = (
        f"initdb {' '.join(CNPG_INITDB)} -D /pgdata/db >/dev/null"
        " && pg_ctl -D /pgdata/db -w -o \"-c listen_addresses='' -k /tmp\" start >/dev/null"
        " && psql -h /tmp -At -c 'SHOW lc_messages' -c 'SHOW server_encoding' postgres"
        " && pg_ctl -D /pgdata/db -w stop >/dev/null"
    )
    image = unpacked["postgresql"]
    result = imagerun.run(image, command=["sh", "-c", script], binds={"/pgdata": data})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["C.UTF-8", "UTF8"]


def test_pause_image(unpacked: Unpacked) -> None:
    image = unpacked["pause"]
    config = image.config["config"]
    assert (config["Entrypoint"], config["User"]) == (["/pause"], "65535:65535")
    assert sorted(p.name for p in image.rootfs.iterdir() if p.name != "tmp") == ["pause"]
    result = imagerun.run(image, ["-v"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pause.c v")


def test_debian_python_is_a_usable_base(unpacked: Unpacked) -> None:
    image = unpacked["debian-python"]
    script = "import ssl, sys, venv; print(sys.executable)"
    result = imagerun.run(image, command=["python3", "-c", script])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/usr/bin/python3"


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc")
def test_binary_image_runs_a_static_binary_without_a_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNPG_WAL_REPLICA_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "hello.c"
    source.write_text(
        "#include <stdio.h>\n#include <unistd.h>\n"
        'int main(void) { printf("uid=%d\\n", (int)getuid()); return 0; }\n'
    )
    binary = tmp_path / "hello"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(binary), str(source)], check=True)
    image = images.binary_image("hello", {"/hello": binary}, ["/hello"])
    unpacked = imagerun.unpack(images.build(image), tmp_path / "run")
    assert not (unpacked.rootfs / "bin").exists()
    result = imagerun.run(unpacked)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "uid=65532\n"
