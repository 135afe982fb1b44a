"""`render`: the same objects Post would apply, or every error Post would report."""

from __future__ import annotations

from pathlib import Path

import pytest
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
    pvc, deployment, certificate, service = list(yaml.safe_load_all(result.output))
    assert pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "30Gi"
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/x/y:1"
    assert (certificate["kind"], service["kind"]) == ("Certificate", "Service")


def test_render_reports_every_error_and_fails(tmp_path: Path) -> None:
    path = write_cluster(tmp_path, {"synchronous": "sometimes", "walPVCSize": "-1"})
    result = CliRunner().invoke(main, ["render", str(path), "--receiver-image", "ghcr.io/x/y:1"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == [
        "Error: spec.plugins[0].parameters.synchronous='sometimes': must be active or "
        'inactive (example: synchronous: "active")',
        "Error: spec.plugins[0].parameters.walPVCSize='-1': must be greater than zero "
        '(example: walPVCSize: "20Gi")',
    ]


def test_render_rejects_malformed_override(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["render", str(write_cluster(tmp_path)), "-p", "novalue"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: --parameters 'novalue' is not KEY=VALUE")


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


PLUGIN_ENTRY = "    - name: cnpg-i-wal-replica.documentdb.io\n"


def manifest(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def plugin_manifest(tmp_path: Path, parameters: str) -> Path:
    return manifest(
        tmp_path,
        "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata:\n  name: pg\n"
        f"spec:\n  instances: 1\n  plugins:\n{PLUGIN_ENTRY}      parameters:\n{parameters}",
    )


def run(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["render", str(path), "--receiver-image", "r:1"])
    return result.exit_code, result.output.splitlines()


@pytest.mark.parametrize("field", ["parameters", "plugins", "spec", "metadata"])
@pytest.mark.parametrize("value", ["null", "[]", "x", "3"])
def test_render_never_shows_a_traceback(tmp_path: Path, field: str, value: str) -> None:
    body = {
        "parameters": f"spec:\n  plugins:\n{PLUGIN_ENTRY}      parameters: {value}\n",
        "plugins": f"spec:\n  plugins: {value}\n",
        "spec": f"spec: {value}\n",
        "metadata": "",
    }[field]
    metadata = f"metadata: {value}\n" if field == "metadata" else "metadata:\n  name: pg\n"
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(manifest(tmp_path, f"kind: Cluster\n{metadata}{body}")),
            "--receiver-image",
            "r:1",
        ],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code:
        assert result.exit_code == 1
        assert len(result.output.splitlines()) == 1
        assert result.output.startswith("Error: ")
    if value != "null" and (field, value) != ("plugins", "[]"):  # null and [] mean empty
        assert result.exit_code == 1


def test_render_reports_yaml_errors_in_one_line(tmp_path: Path) -> None:
    code, lines = run(manifest(tmp_path, "kind: Cluster\nmetadata: {name: [\n"))
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert "is not valid YAML" in lines[0]
    assert "(line 3, column 1)" in lines[0]
    code, lines = run(manifest(tmp_path, "kind: Cluster\nspec: " + "[" * 100_000))
    assert code == 1
    assert lines[-1].endswith("nests too deeply to be a Cluster manifest")


def test_render_refuses_unquoted_values_saying_what_was_written(tmp_path: Path) -> None:
    code, lines = run(plugin_manifest(tmp_path, "        synchronous: yes\n        cpuLimit: 1\n"))
    assert code == 1
    assert lines == [
        "Error: spec.plugins[0].parameters.cpuLimit: you wrote 1, which YAML reads as the "
        'number 1; parameter values must be quoted strings (example: cpuLimit: "1")',
        "Error: spec.plugins[0].parameters.synchronous: you wrote yes, which YAML reads as "
        "the boolean true; parameter values must be quoted strings "
        '(example: synchronous: "active")',
    ]


def test_render_refuses_the_plugin_twice_and_enabled_yes(tmp_path: Path) -> None:
    path = plugin_manifest(tmp_path, '        verbose: "true"\n')
    text = path.read_text() + PLUGIN_ENTRY.replace("- name", "- enabled: 'yes'\n      name")
    code, lines = run(manifest(tmp_path, text))
    assert code == 1
    assert lines == [
        "Error: spec.plugins[1].name='cnpg-i-wal-replica.documentdb.io': lists this plugin a "
        "second time (first at spec.plugins[0]); keep one entry"
    ]


def test_render_reports_yaml_only_values_in_one_line_each(tmp_path: Path) -> None:
    code, lines = run(
        plugin_manifest(
            tmp_path,
            "        retentionMaxAge: 2001-12-14\n        image: !!binary aGVsbG8=\n"
            "        slotName: ~\n",
        )
    )
    assert code == 1
    assert len(lines) == 3
    assert "you wrote aGVsbG8=, which YAML reads as the bytes" in lines[0]
    assert "you wrote 2001-12-14, which YAML reads as the date 2001-12-14;" in lines[1]
    assert "you wrote ~, which YAML reads as null;" in lines[2]


def test_render_refuses_a_receiver_image_that_is_no_image(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["render", str(write_cluster(tmp_path)), "--receiver-image", "Not An Image"]
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: --receiver-image 'Not An Image' is not a container image reference (example: "
    )
