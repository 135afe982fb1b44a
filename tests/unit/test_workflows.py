"""The GitHub Actions workflow: valid for actionlint (built by the harness from its Go
module, tests/harness/actionlint), and doing what it promises: `make test` on every push
and pull request; on a version tag, the amd64 and arm64 image, the chart as an OCI
artifact, and manifest.yaml and the chart attached to the release.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import harnesspaths
from support.kube_fixtures import skip_or_fail

ROOT = harnesspaths.REPO_ROOT
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))


@pytest.fixture(scope="module")
def actionlint() -> str:
    try:
        return str(harnesspaths.actionlint())
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise


def lint(actionlint: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on `paths`, without shellcheck or pyflakes (PATH has neither)."""
    return subprocess.run(
        [actionlint, "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_every_workflow_passes_actionlint(actionlint: str) -> None:
    assert WORKFLOWS, "no workflow in .github/workflows"
    done = lint(actionlint, *WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(actionlint: str, tmp_path: Path) -> None:
    broken = yaml.safe_load(WORKFLOWS[0].read_text())
    broken["jobs"]["test"]["steps"].append({"run": "echo ${{ github.no_such_context }}"})
    broken["jobs"]["test"]["timeout-minute"] = 5
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    done = lint(actionlint, path)
    assert done.returncode == 1
    assert "no_such_context" in done.stdout
    assert "timeout-minute" in done.stdout


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    (path,) = WORKFLOWS
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def uses(job: dict[str, Any]) -> list[str]:
    return [step["uses"] for step in job["steps"] if "uses" in step]


def test_every_push_and_pull_request_runs_make_test(workflow: dict[Any, Any]) -> None:
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"push", "pull_request"}
    assert triggers["push"]["tags"] == ["v*"]
    test = workflow["jobs"]["test"]
    assert "if" not in test
    assert ".ci/run" in runs(test)
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")
    assert test["container"]["image"] == "debian:12"


def test_a_tag_releases_image_chart_and_manifest(workflow: dict[Any, Any]) -> None:
    release = workflow["jobs"]["release"]
    assert release["needs"] == "test", "nothing is published that did not pass make test"
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    (build,) = [s for s in release["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert set(build["with"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["with"]["push"] is True
    script = runs(release)
    assert 'helm push "cnpg-wal-replica-$VERSION.tgz" "$CHART_REPOSITORY"' in script
    assert workflow["env"]["CHART_REPOSITORY"].startswith("oci://")
    assert 'make manifest IMAGE="$IMAGE_REPOSITORY:$VERSION"' in script
    assert 'gh release create "$GITHUB_REF_NAME" manifest.yaml "cnpg-wal-replica-$VERSION.tgz"' in (
        script.replace("\\\n", "")
    )
    assert release["permissions"] == {"contents": "write", "packages": "write"}
    assert workflow["permissions"] == {"contents": "read"}, "only the release job may write"


def test_the_release_builds_helm_from_the_pinned_module(workflow: dict[Any, Any]) -> None:
    release = workflow["jobs"]["release"]
    (step,) = [s for s in release["steps"] if "helm.sh/helm" in s.get("run", "")]
    assert step["working-directory"] == "tests/harness/helm"
    recipe = (ROOT / "tests" / "harness" / "helm" / "recipe.sh").read_text()
    assert "PACKAGES=(helm.sh/helm/v4/cmd/helm)" in recipe
    assert "helm.sh/helm/v4/cmd/helm" in step["run"]


def test_the_release_notes_are_the_changelog_section(
    workflow: dict[Any, Any], tmp_path: Path
) -> None:
    """The release job's awk program, run on a changelog with two sections."""
    script = runs(workflow["jobs"]["release"])
    (program,) = re.findall(r"awk -v v=\"\[\$VERSION\]\" '([^']+)' CHANGELOG.md", script)
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Changelog\n\n## [1.1.0] - 2027-01-02\n\n- new\n\n"
                         "## [1.0.0] - 2026-12-01\n\n- old\n")  # fmt: skip
    notes = subprocess.run(
        ["awk", "-v", "v=[1.1.0]", program, str(changelog)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert notes.split() == ["-", "new"]
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
