"""The harness's cache contract, checked without starting anything."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import harnesspaths

SCRIPTS = harnesspaths.REPO_ROOT / "scripts"
MODULES = sorted(p.parent.name for p in harnesspaths.HARNESS_DIR.glob("*/recipe.sh"))


def _bash_hash(harness: Path, module: str) -> str:
    """module_source_hash of scripts/harness-build.sh, for the modules under `harness`."""
    script = f'source "{SCRIPTS}/harness-build.sh"; module_source_hash "$1"'
    return subprocess.run(
        ["bash", "-c", script, "-", module],
        env={"HARNESS": str(harness), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_every_module_is_built() -> None:
    assert {"cnpgi-client", "kube", "containerd", "coredns", "cnpg", "cert-manager", "helm",
            "actionlint", "prometheus"} <= set(MODULES)  # fmt: skip


def test_every_module_has_a_measured_cold_time() -> None:
    """`build` prints it before a long build; "?" would mean nobody measured it."""
    script = (SCRIPTS / "kube-harness").read_text()
    declared = re.search(r"declare -A COLD_MINUTES=\((.*?)\)", script, flags=re.S)
    assert declared is not None
    assert set(re.findall(r"\[([\w-]+)\]=\d+", declared.group(1))) == set(MODULES)


def test_bash_and_python_agree_on_every_cache_directory() -> None:
    info = subprocess.run(
        [str(SCRIPTS / "kube-harness"), "info"], capture_output=True, text=True, check=True
    ).stdout
    for module in MODULES:
        assert f" {harnesspaths.module_cache_dir(module)}/" in info, module
    expected = f"cnpgi-client-{harnesspaths.cnpgi_client_source_hash()}/cnpgi-client"
    assert expected in info


def test_cache_directory_names_the_upstream_version() -> None:
    pins = harnesspaths.pins()
    kube = harnesspaths.module_cache_dir("kube").name
    assert kube.startswith(f"kube-{pins['KUBE_VERSION']}-")
    assert harnesspaths.module_cache_dir("cnpg").name.startswith(f"cnpg-{pins['CNPG_VERSION']}-")
    cert_manager = harnesspaths.module_cache_dir("cert-manager").name
    assert cert_manager.startswith(f"cert-manager-{pins['CERT_MANAGER_VERSION']}-")
    assert harnesspaths.module_upstream_version("cnpgi-client") is None
    assert harnesspaths.module_cache_dir("helm").name.startswith("helm-v4.")
    assert harnesspaths.module_cache_dir("actionlint").name.startswith("actionlint-v1.")
    prometheus = harnesspaths.module_upstream_version("prometheus")
    assert harnesspaths.module_cache_dir("prometheus").name.startswith(f"prometheus-{prometheus}-")


def test_operator_binaries_and_crds_come_from_the_same_release() -> None:
    pins = harnesspaths.pins()
    assert harnesspaths.module_upstream_version("cnpg") == pins["CNPG_VERSION"]
    assert harnesspaths.module_upstream_version("cert-manager") == pins["CERT_MANAGER_VERSION"]


def test_cache_key_changes_with_the_recipe_and_nested_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = tmp_path / "harness"
    shutil.copytree(harnesspaths.HARNESS_DIR / "kube", harness / "kube")
    monkeypatch.setattr(harnesspaths, "HARNESS_DIR", harness)
    keys = [harnesspaths.module_source_hash("kube")]
    assert keys[0] == _bash_hash(harness, "kube")
    edits = [
        ("recipe.sh", "CGO_ENABLED=1\n"),
        ("cmd/etcd/main.go", "// edited\n"),
        ("go.sum", "\n"),
    ]
    for name, text in edits:
        with (harness / "kube" / name).open("a") as file:
            file.write(text)
        keys.append(harnesspaths.module_source_hash("kube"))
        assert keys[-1] == _bash_hash(harness, "kube"), name
    assert len(set(keys)) == len(keys)
    (harness / "kube" / "NOTES.md").write_text("not part of the build\n")
    assert harnesspaths.module_source_hash("kube") == keys[-1] == _bash_hash(harness, "kube")


def test_pins_name_the_kubernetes_module_and_upstream_releases() -> None:
    pins = harnesspaths.pins()
    assert pins["KUBE_VERSION"].startswith("v1.")
    assert pins["CNPG_VERSION"].startswith("v1.")
    assert pins["CERT_MANAGER_VERSION"].startswith("v1.")


def test_missing_binaries_say_how_to_build_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNPG_WAL_REPLICA_CACHE", str(tmp_path))
    with pytest.raises(harnesspaths.HarnessMissing, match="scripts/kube-harness build"):
        harnesspaths.kube_binaries()
    with pytest.raises(harnesspaths.HarnessMissing, match=r"kubelet.*scripts/kube-harness build"):
        harnesspaths.node_binaries()
    with pytest.raises(harnesspaths.HarnessMissing, match="cloudnative-pg"):
        harnesspaths.crd_files("cloudnative-pg")
    with pytest.raises(harnesspaths.HarnessMissing, match="config/"):
        harnesspaths.cnpg_module_dir()
