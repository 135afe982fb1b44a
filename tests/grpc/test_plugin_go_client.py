"""The real CNPG-I Go client (tests/harness/cnpgi-client, built by `scripts/kube-harness
build`) dials `serve` the way the CNPG operator does: TLS 1.3 minimum, the operator's call
sequence, answers decoded with the published cnpg-i stubs. The core is the test double of
plugin_doubles (the real one needs a Kubernetes API server; tests/kube covers it)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.grpcserver import Pki, serve_process
from support.plugin_doubles import cluster_json
from support.plugin_pki import SERVICE_NAME

SUPPORT = Path(__file__).parents[1] / "support" / "harnesspaths.py"


def _cnpgi_client() -> Path:
    spec = importlib.util.spec_from_file_location("harnesspaths_for_grpc", SUPPORT)
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    try:
        binary: Path = module.cnpgi_client()
    except module.HarnessMissing as missing:
        pytest.skip(str(missing))
    return binary


def _run_client(port: int, pki: Pki, tmp_path: Path, cluster: bytes, *extra: str) -> dict[str, Any]:
    server_cert, client_cert, client_key = (
        tmp_path / "server.crt",
        tmp_path / "op.crt",
        tmp_path / "op.key",
    )
    server_cert.write_bytes(pki.server.cert + pki.ca.cert_pem)
    client_cert.write_bytes(pki.client.cert)
    client_key.write_bytes(pki.client.key)
    (tmp_path / "cluster.json").write_bytes(cluster)
    done = subprocess.run(
        [
            str(_cnpgi_client()),
            "--address",
            f"127.0.0.1:{port}",
            "--server-name",
            SERVICE_NAME,
            "--server-cert",
            str(server_cert),
            "--client-cert",
            str(client_cert),
            "--client-key",
            str(client_key),
            "--cluster",
            str(tmp_path / "cluster.json"),
            *extra,
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    summary: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0, (summary.get("failures"), done.stderr)
    return summary


def test_operator_sequence_over_tls13(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path / "tls")
    with serve_process(tls) as served:
        summary = _run_client(served.port, pki, tmp_path, cluster_json())
    assert summary["tlsVersion"] == "TLS1.3"
    assert summary["capabilities"] == [
        "TYPE_OPERATOR_SERVICE",
        "TYPE_RECONCILER_HOOKS",
        "TYPE_LIFECYCLE_SERVICE",
    ], "never TYPE_INSTANCE_SIDECAR_INJECTION: origins' instance managers would need a socket"
    assert summary["serviceCapabilities"]["TYPE_LIFECYCLE_SERVICE"] == [
        "/Pod:TYPE_CREATE",
        "/Pod:TYPE_EVALUATE",
        "batch/Job:TYPE_CREATE",
    ]
    assert (
        "TYPE_SET_STATUS_IN_CLUSTER" not in summary["serviceCapabilities"]["TYPE_OPERATOR_SERVICE"]
    )
    assert (summary["pre"], summary["post"]) == ("BEHAVIOR_CONTINUE", "BEHAVIOR_CONTINUE")
    assert summary["statusCalled"] is False


def test_set_status_when_enabled(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path / "tls")
    with serve_process(tls, "--enable-set-status") as served:
        summary = _run_client(served.port, pki, tmp_path, cluster_json())
    assert summary["statusCalled"] is True
    assert summary["status"]["deployment"] == "pg-wal-receiver"


def test_config_error_reaches_the_operator(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path / "tls")
    with serve_process(tls) as served:
        summary = _run_client(
            served.port,
            pki,
            tmp_path,
            cluster_json(**{"test/raise": "config"}),
            "--expect-post-error",
            "walPVCSize='-1Gi'",
        )
    assert "10Gi" in summary["postError"]
