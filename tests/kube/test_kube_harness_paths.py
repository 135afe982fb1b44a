"""The harness's cache contract, checked without starting anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import harnesspaths


def test_bash_and_python_agree_on_the_go_client_cache_key() -> None:
    info = subprocess.run(
        [str(harnesspaths.REPO_ROOT / "scripts" / "kube-harness"), "info"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = f"cnpgi-client-{harnesspaths.cnpgi_client_source_hash()}/cnpgi-client"
    assert expected in info


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
    with pytest.raises(harnesspaths.HarnessMissing, match="cloudnative-pg"):
        harnesspaths.crd_files("cloudnative-pg")
