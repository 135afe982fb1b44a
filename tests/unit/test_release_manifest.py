"""`make manifest`: deploy/ as one file for `kubectl apply -f`, with the release's image.

The image must reach every place deploy/'s replacements copy it to (the container,
PLUGIN_IMAGE, the admission policy's pluginImage) and no trace of the shipped image may
remain; everything else is exactly what `kubectl kustomize deploy/` renders. The same file
is accepted by a real API server in tests/kube/test_deploy_dryrun.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import release_manifest
import yaml
from support import harnesspaths
from support.kube_fixtures import skip_or_fail
from support.kustomize import KustomizeMissing, kubectl, render

from cnpg_wal_replica import metadata

ROOT = harnesspaths.REPO_ROOT

IMAGE = "registry.example:5000/team/wal:9.9.9"


@pytest.fixture(scope="module", autouse=True)
def _kustomize() -> None:
    try:
        kubectl()
    except KustomizeMissing as missing:
        skip_or_fail(str(missing))


def docs_of(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def image_fields(docs: list[dict[str, Any]]) -> dict[str, str]:
    """Every place deploy/ holds the plugin's image, by what it is."""
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    (policy,) = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"
                 and d["metadata"]["name"] == "cnpg-wal-replica"]  # fmt: skip
    variables = {v["name"]: v["expression"] for v in policy["spec"]["variables"]}
    return {
        "container": container["image"],
        "PLUGIN_IMAGE": env["PLUGIN_IMAGE"],
        "pluginImage": variables["pluginImage"].strip("'"),
    }


def test_make_manifest_sets_the_image_everywhere(tmp_path: Path) -> None:
    output = tmp_path / "manifest.yaml"
    subprocess.run(
        ["make", "--no-print-directory", "manifest", f"IMAGE={IMAGE}", f"MANIFEST={output}"],
        cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    text = output.read_text()
    assert set(image_fields(docs_of(text)).values()) == {IMAGE}
    assert metadata.RELEASE_IMAGE not in text, "no trace of the shipped image"
    assert text.startswith(f"# cnpg-wal-replica {metadata.VERSION}, image {IMAGE}")


def test_apart_from_the_image_it_is_what_deploy_renders() -> None:
    shipped = render(ROOT / "deploy")
    released = docs_of(release_manifest.render(IMAGE).replace(IMAGE, metadata.RELEASE_IMAGE))
    assert released == shipped


def test_the_default_image_is_the_project_versions() -> None:
    fields = image_fields(docs_of(release_manifest.render(metadata.RELEASE_IMAGE)))
    assert set(fields.values()) == {f"{metadata.IMAGE_REPOSITORY}:{metadata.VERSION}"}
    source = (ROOT / "scripts" / "release_manifest.py").read_text()
    assert "default=metadata.RELEASE_IMAGE" in source


@pytest.mark.parametrize(
    ("image", "entry"),
    [
        ("r.example/w:1.2", {"newName": "r.example/w", "newTag": "1.2"}),
        ("r.example:5000/w:1", {"newName": "r.example:5000/w", "newTag": "1"}),
        (f"r/w@sha256:{'a' * 64}", {"newName": "r/w", "digest": f"sha256:{'a' * 64}"}),
    ],
)
def test_image_references_become_kustomize_entries(image: str, entry: dict[str, str]) -> None:
    assert release_manifest.image_entry(image) == {"name": metadata.IMAGE_REPOSITORY, **entry}


@pytest.mark.parametrize("image", ["r.example/w", "r.example/w:'x'", "R/w:1", ""])
def test_a_bad_image_is_refused_with_an_example(image: str) -> None:
    with pytest.raises(ValueError, match=r"example: registry\.example/cnpg-wal-replica"):
        release_manifest.image_entry(image)
