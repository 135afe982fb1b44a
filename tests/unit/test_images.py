"""The pure parts of the harness images: cache keys, refs, archive layout, CNPG tag parsing."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from support import imagerecipes, images, ocilayout
from support.harnesspaths import REPO_ROOT, HarnessMissing


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache, and a stand-in pause.c (the real one is in the Go module cache)."""
    monkeypatch.setenv("CNPG_WAL_REPLICA_CACHE", str(tmp_path / "cache"))
    pause_c = tmp_path / "pause.c"
    pause_c.write_text("int main(void) { return 0; }\n")
    monkeypatch.setattr(images, "pause_source", lambda: pause_c)
    return tmp_path / "cache"


def cnpg_version_from_tag(ref: str) -> tuple[int, int]:
    """CNPG 1.30's reading of an imageName: machinery's reference.New(...).Tag, then
    version.FromTag (regexp `^(\\d\\.?)+`, major and minor from its first two fields)."""
    tag_match = re.search(r":([^/]+)$", ref.split("@sha256:")[0])
    tag = tag_match[1] if tag_match else "latest"
    version = re.match(r"^(\d\.?)+", tag)
    if version is None:
        raise ValueError(f"{tag!r}: not a version tag")
    fields = version[0].split(".")
    return int(fields[0]), int(fields[1]) if len(fields) > 1 and fields[1] else 0


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("11.2", (11, 2)), ("13.3.2.1-1", (13, 3)), ("14", (14, 0)), ("15.5-10", (15, 5))],
)
def test_tag_reader_agrees_with_machinery_examples(tag: str, expected: tuple[int, int]) -> None:
    assert cnpg_version_from_tag(f"ghcr.io/cloudnative-pg/postgresql:{tag}") == expected


def test_postgresql_tag_gives_cnpg_the_major_for_any_hash() -> None:
    ref = images.image_ref("postgresql")
    assert ref.startswith("localhost/harness/postgresql:15-")
    assert cnpg_version_from_tag(ref) == (images.PG_MAJOR, 0)
    for digits_first in ("0123456789ab", "15.14-deadbeef0000"):
        assert cnpg_version_from_tag(f"localhost/p:15-{digits_first}")[0] == 15


def test_refs_never_need_a_pull_and_are_valid_references() -> None:
    for name in images.BUILT_HERE:
        ref = images.image_ref(name)
        repository, _, tag = ref.rpartition(":")
        assert repository.split("/")[0] == "localhost", "containerd must not prefix docker.io"
        assert re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", repository), ref
        assert re.fullmatch(r"[\w][\w.-]{0,127}", tag), ref
        assert tag != "latest"
        assert images.archive_path(name).parent == images.images_dir()
        assert images.archive_path(name).name == f"{name}-{images.image(name).key[:12]}.tar"


def test_archives_live_in_the_harness_cache(cache: Path) -> None:
    assert images.archive_path("debian-python").parent == cache / "images"


def test_key_covers_recipe_version_and_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    def noop(archive: Path, ref: str, log: Path) -> None:
        raise AssertionError

    base = images.Image("x", "localhost/harness/x", {"a": 1}, noop)
    assert images.Image("x", "localhost/harness/x", {"a": 2}, noop).key != base.key
    before = base.key
    monkeypatch.setattr(images, "RECIPE_VERSION", images.RECIPE_VERSION + 1)
    assert base.key != before


def test_debian_keys_follow_packages_and_config() -> None:
    assert images.image("debian-python").key != images.image("postgresql").key
    assert images.debian_python().key == images.debian_python().key


def _fake_repo(root: Path) -> Path:
    root.mkdir()
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    return root


def test_cnpg_wal_replica_key_follows_its_build_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _fake_repo(tmp_path / "repo")
    monkeypatch.setattr(images, "REPO_ROOT", repo)
    first = images.cnpg_wal_replica().key
    (repo / "src" / "pkg" / "__pycache__").mkdir()
    (repo / "src" / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (repo / "notes.txt").write_text("not in the build context\n")
    assert images.cnpg_wal_replica().key == first, ".dockerignored files must not count"
    (repo / "src" / "pkg" / "mod.py").write_text("x = 2\n")
    second = images.cnpg_wal_replica().key
    assert second != first
    (repo / "Dockerfile").write_text((repo / "Dockerfile").read_text() + "\n# changed\n")
    assert images.cnpg_wal_replica().key != second


def test_cnpg_wal_replica_key_follows_its_base(monkeypatch: pytest.MonkeyPatch) -> None:
    first = images.cnpg_wal_replica()
    assert first.deps == ("debian-python",)
    other = dataclasses.replace(images.debian_python(), inputs={"other": True})
    monkeypatch.setattr(images, "debian_python", lambda: other)
    assert images.cnpg_wal_replica().key != first.key


def test_context_is_what_dockerignore_allows() -> None:
    context = {p.relative_to(REPO_ROOT).as_posix() for p in imagerecipes.context_files(REPO_ROOT)}
    assert {"Dockerfile", "pyproject.toml", "uv.lock", "README.md"} <= context
    assert "src/cnpg_wal_replica/cli.py" in context
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in context if p.startswith(("tests/", "docs/", ".git/"))]


def test_pause_key_follows_its_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "pause.c"
    source.write_text("int main(void) { return 0; }\n")
    monkeypatch.setattr(images, "pause_source", lambda: source)
    first = images.pause()
    source.write_text("int main(void) { return 1; }\n")
    assert images.pause().key != first.key
    assert first.ref.startswith("localhost/harness/pause:")


def _binary(tmp_path: Path, content: bytes = b"\x7fELF fake") -> Path:
    path = tmp_path / "manager"
    path.write_bytes(content)
    path.chmod(0o755)
    return path


def test_binary_image_key_follows_content_entrypoint_and_user(tmp_path: Path) -> None:
    path = _binary(tmp_path)
    first = images.binary_image("cnpg-operator", {"/manager": path}, ["/manager"])
    assert first.ref == f"localhost/harness/cnpg-operator:{first.key[:12]}"
    assert (
        images.binary_image("cnpg-operator", {"/manager": path}, ["/manager", "x"]).key != first.key
    )
    assert (
        images.binary_image("cnpg-operator", {"/manager": path}, ["/manager"], 0).key != first.key
    )
    _binary(tmp_path, b"\x7fELF other")
    assert images.binary_image("cnpg-operator", {"/manager": path}, ["/manager"]).key != first.key


def test_binary_image_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessMissing, match="missing"):
        images.binary_image("x", {"/x": tmp_path / "absent"}, ["/x"])


def test_require_names_what_is_missing() -> None:
    with pytest.raises(HarnessMissing, match=r"pause.*images\.py build pause"):
        images.require(["pause"])


def _blobs(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def test_binary_image_archive_is_an_oci_layout_and_a_docker_archive(tmp_path: Path) -> None:
    img = images.binary_image("tiny", {"/bin/tiny": _binary(tmp_path)}, ["/bin/tiny"])
    archive = images.build(img)
    assert archive == img.archive
    assert archive.is_file()
    files = _blobs(archive)
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rpartition("/")[2]
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    read = ocilayout.read_archive(archive)
    (entry,) = read.index["manifests"]
    assert entry["annotations"] == {
        "io.containerd.image.name": img.ref,
        "org.opencontainers.image.ref.name": img.tag,
    }
    assert entry["platform"] == {"architecture": ocilayout.architecture(), "os": "linux"}
    (docker,) = read.docker_manifest
    assert docker["RepoTags"] == [img.ref]
    assert docker["Config"] == "blobs/sha256/" + read.manifest["config"]["digest"][7:]
    layer_digests = [layer["digest"] for layer in read.manifest["layers"]]
    assert read.config["rootfs"]["diff_ids"] == layer_digests
    runtime = read.config["config"]
    assert runtime["Entrypoint"] == ["/bin/tiny"]
    assert runtime["User"] == "65532:65532"
    members = {info.name: info for info, _ in read.layer_members()}
    assert set(members) == {"tmp", "bin/tiny"}
    assert members["tmp"].isdir()
    assert members["tmp"].mode == 0o1777
    assert (members["bin/tiny"].mode, members["bin/tiny"].uid) == (0o755, 0)


def test_build_reuses_a_cached_archive(tmp_path: Path) -> None:
    img = images.binary_image("tiny", {"/tiny": _binary(tmp_path)}, ["/tiny"])
    archive = images.build(img)
    stamp = archive.stat().st_mtime_ns
    assert images.build(img) == archive
    assert archive.stat().st_mtime_ns == stamp
    images.build(img, force=True)
    assert archive.stat().st_mtime_ns != stamp


def test_rootfs_entries_strip_dot_slash_and_devices(tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        for name, kind in (
            ("./", tarfile.DIRTYPE),
            ("./dev/", tarfile.DIRTYPE),
            ("./dev/null", tarfile.CHRTYPE),
            ("./etc/", tarfile.DIRTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            tar.addfile(info)
        info = tarfile.TarInfo("./etc/hostname")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"box"))
        link = tarfile.TarInfo("./etc/hostname2")
        link.type, link.linkname = tarfile.LNKTYPE, "./etc/hostname"
        tar.addfile(link)
    entries = [(info.name, info.linkname) for info, _ in ocilayout.rootfs_entries(rootfs)]
    assert entries == [
        ("dev", ""),
        ("etc", ""),
        ("etc/hostname", ""),
        ("etc/hostname2", "etc/hostname"),
    ]


def test_docker_archive_repacks_with_the_ref(tmp_path: Path) -> None:
    img = images.binary_image("tiny", {"/tiny": _binary(tmp_path)}, ["/tiny"])
    original = ocilayout.read_archive(images.build(img))
    repacked = tmp_path / "repacked.tar"
    ocilayout.docker_archive_to_archive(img.archive, "localhost/other:1", repacked, tmp_path / "w")
    read = ocilayout.read_archive(repacked)
    names = read.index["manifests"][0]["annotations"]
    assert names["io.containerd.image.name"] == "localhost/other:1"
    assert read.docker_manifest[0]["RepoTags"] == ["localhost/other:1"]
    assert read.manifest == original.manifest


def test_a_new_build_removes_older_archives_of_the_same_image(tmp_path: Path) -> None:
    old = images.build(images.binary_image("tiny", {"/tiny": _binary(tmp_path)}, ["/tiny"]))
    other = images.build(images.binary_image("tiny-2", {"/tiny": _binary(tmp_path)}, ["/tiny"]))
    new = images.build(images.binary_image("tiny", {"/tiny": _binary(tmp_path, b"new")}, ["/tiny"]))
    assert new.is_file()
    assert other.is_file()
    assert not old.exists()


def test_tool_failures_show_the_log_tail_and_long_steps_say_they_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "x.log"
    with pytest.raises(RuntimeError, match=r"(?s)sh exited 3 .*boom"):
        imagerecipes.run_logged(["sh", "-c", "echo boom; exit 3"], log, "fails")
    imagerecipes.run_logged(["sh", "-c", "sleep 0.3"], log, "slow", heartbeat=0.1)
    err = capsys.readouterr().err
    assert "images: fails FAILED after" in err
    assert "images: slow: still running" in err
    assert re.search(r"images: slow done in \d+\.\d s", err)
