"""Run the real helm (built by the harness: tests/harness/helm) on the chart in charts/.

Every call gets its own HELM_CONFIG_HOME, HELM_CACHE_HOME and HELM_DATA_HOME under a
temporary directory, so tests neither read nor write the user's helm settings, and no
repository or registry is ever consulted.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from support import harnesspaths

CHART = harnesspaths.REPO_ROOT / "charts" / "cnpg-wal-replica"
RELEASE = "cnpg-wal-replica"
NAMESPACE = "cnpg-system"
"""The release name and namespace whose default rendering equals deploy/'s."""

Doc = dict[str, Any]


class HelmError(RuntimeError):
    """helm exited non-zero; the message holds its stderr."""

    def __init__(self, args: list[str], stderr: str) -> None:
        super().__init__(f"helm {' '.join(args)} failed: {stderr.strip()}")
        self.stderr = stderr


def run(args: list[str], *, kubeconfig: Path | None = None, timeout: float = 120) -> str:
    """`helm <args>` with private settings directories; its stdout, or HelmError."""
    binary = str(harnesspaths.helm())
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": home,
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_DATA_HOME": f"{home}/data",
        }
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        done = subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    if done.returncode != 0:
        raise HelmError(args, done.stderr)
    return done.stdout


def values_args(values: dict[str, Any] | None, directory: Path) -> list[str]:
    """`-f <file>` for `values` written as YAML into `directory` (nothing for None)."""
    if values is None:
        return []
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


def template(
    values: dict[str, Any] | None = None, *, release: str = RELEASE, namespace: str = NAMESPACE
) -> list[Doc]:
    """`helm template` of the chart, as documents."""
    with tempfile.TemporaryDirectory(prefix="helm-values-") as directory:
        out = run(
            ["template", release, str(CHART), "--namespace", namespace,
             *values_args(values, Path(directory))]
        )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]
