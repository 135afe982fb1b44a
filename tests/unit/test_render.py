"""`render`: the same objects Post would apply, or every error Post would report."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from support.clusters import cluster_document

from cnpg_wal_replica.cli import main


def write_cluster(tmp_path: Path, parameters: dict[str, str] | None = None) -> Path:
    doc = cluster_document(parameters=parameters)
    del doc["status"]
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_render_prints_pvc_and_deployment(tmp_path: Path) -> None:
    path = write_cluster(tmp_path)
    result = CliRunner().invoke(
        main, ["render", str(path), "-p", "walPVCSize=30Gi", "--receiver-image", "ghcr.io/x/y:1"]
    )
    assert result.exit_code == 0, result.output
    pvc, deployment = list(yaml.safe_load_all(result.output))
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "30Gi"
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/x/y:1"


def test_render_reports_every_error_and_fails(tmp_path: Path) -> None:
    path = write_cluster(tmp_path, {"synchronous": "sometimes", "walPVCSize": "-1"})
    result = CliRunner().invoke(main, ["render", str(path), "--receiver-image", "ghcr.io/x/y:1"])
    assert result.exit_code == 2
    assert "spec.plugins.0.synchronous" in result.output
    assert "spec.plugins.0.walPVCSize" in result.output
    assert "apiVersion" not in result.output


def test_render_rejects_malformed_override(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["render", str(write_cluster(tmp_path)), "-p", "novalue"])
    assert result.exit_code != 0
    assert "is not key=value" in result.output


def test_render_examples_directory(tmp_path: Path) -> None:
    examples = sorted(Path(__file__).resolve().parents[2].glob("examples/*.yaml"))
    for example in examples:
        result = CliRunner().invoke(main, ["render", str(example), "--receiver-image", "r:1"])
        assert result.exit_code == 0, f"{example.name}: {result.output}"


def test_render_defaults_to_the_release_image_which_deploy_runs(tmp_path: Path) -> None:
    from cnpg_wal_replica.metadata import RELEASE_IMAGE

    result = CliRunner().invoke(main, ["render", str(write_cluster(tmp_path))], env={})
    assert result.exit_code == 0, result.output
    deployment = list(yaml.safe_load_all(result.output))[1]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == RELEASE_IMAGE
    deploy = (Path(__file__).resolve().parents[2] / "deploy" / "deployment.yaml").read_text()
    assert f"image: {RELEASE_IMAGE}" in deploy, "deploy/ must run this release's image"
