"""Where the harness's pinned versions, cached binaries and CRD files are.

`scripts/kube-harness build` fills the cache; this module only finds things and says how to
get them when they are missing. Layout of the cache (`$CNPG_WAL_REPLICA_CACHE`, default
`~/.cache/cnpg-wal-replica`):

    kube-<k8s version>/{etcd,kube-apiserver,kube-controller-manager}
    crds/cloudnative-pg-<version>/*.yaml     (config/crd/bases of the CNPG module)
    crds/cert-manager-<version>/*.yaml       (deploy/crds of the cert-manager module)
    cnpgi-client-<source hash>/cnpgi-client  (tests/harness/cnpgi-client)
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIR = REPO_ROOT / "tests" / "harness"
BUILD_HINT = "run `scripts/kube-harness build` (needs Go >= 1.25 and the Go module proxy)"


class HarnessMissing(RuntimeError):  # noqa: N818 - a public name other tests catch
    """A harness artifact is not in the cache; the message says which and how to build it."""


def cache_root() -> Path:
    return Path(
        os.environ.get("CNPG_WAL_REPLICA_CACHE", Path.home() / ".cache" / "cnpg-wal-replica")
    )


def pins() -> dict[str, str]:
    """Pinned versions: versions.env plus KUBE_VERSION from the kube module's go.mod."""
    values: dict[str, str] = {}
    for line in (HARNESS_DIR / "versions.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    go_mod = (HARNESS_DIR / "kube" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes\s+(v\S+)", go_mod, re.MULTILINE)
    if match is None:
        raise HarnessMissing("tests/harness/kube/go.mod does not require k8s.io/kubernetes")
    values["KUBE_VERSION"] = match.group(1)
    return values


@dataclass(frozen=True)
class KubeBinaries:
    etcd: Path
    apiserver: Path
    controller_manager: Path


def kube_binaries() -> KubeBinaries:
    directory = cache_root() / f"kube-{pins()['KUBE_VERSION']}"
    binaries = KubeBinaries(
        directory / "etcd", directory / "kube-apiserver", directory / "kube-controller-manager"
    )
    missing = [p.name for p in vars(binaries).values() if not os.access(p, os.X_OK)]
    if missing:
        raise HarnessMissing(f"missing {', '.join(missing)} in {directory}: {BUILD_HINT}")
    return binaries


def crd_files(project: str) -> list[Path]:
    """CRD YAML files of `cloudnative-pg` or `cert-manager` at the pinned release."""
    key = {"cloudnative-pg": "CNPG_VERSION", "cert-manager": "CERT_MANAGER_VERSION"}[project]
    directory = cache_root() / "crds" / f"{project}-{pins()[key]}"
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise HarnessMissing(f"no {project} CRDs in {directory}: {BUILD_HINT}")
    return files


def cnpgi_client_source_hash() -> str:
    """Hash of the Go client's go.mod, go.sum and sources: the cache key of its binary."""
    source = HARNESS_DIR / "cnpgi-client"
    digest = hashlib.sha256()
    for path in sorted([source / "go.mod", source / "go.sum", *source.glob("*.go")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cnpgi_client() -> Path:
    binary = cache_root() / f"cnpgi-client-{cnpgi_client_source_hash()}" / "cnpgi-client"
    if not os.access(binary, os.X_OK):
        raise HarnessMissing(f"missing {binary}: {BUILD_HINT}")
    return binary
