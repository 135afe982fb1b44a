"""Where the harness's pinned versions, cached binaries and CRD files are.

`scripts/kube-harness build` fills the cache; this module only finds things and says how to
get them when they are missing. Layout of the cache (`$CNPG_WAL_REPLICA_CACHE`, default
`~/.cache/cnpg-wal-replica`), one directory per Go module under tests/harness, named by the
version of the upstream module it builds and a hash of its recipe (`module_cache_dir`):

    kube-<k8s version>-<hash>/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler,
                               kubelet,kube-proxy,kubectl}
    containerd-<version>-<hash>/{containerd,containerd-shim-runc-v2,ctr}
    coredns-<version>-<hash>/coredns
    cnpg-<version>-<hash>/{manager,kubectl-cnpg}
    cert-manager-<version>-<hash>/controller
    cnpgi-client-<hash>/cnpgi-client
    cnpgi-wal-restore-<hash>/cnpgi-wal-restore
    helm-<version>-<hash>/helm
    actionlint-<version>-<hash>/actionlint
    prometheus-<version>-<hash>/promtool
    crds/cloudnative-pg-<version>/*.yaml     (config/crd/bases of the CNPG module)
    crds/cert-manager-<version>/*.yaml       (deploy/crds of the cert-manager module)
    crds/prometheus-operator-<version>/*.yaml (example/prometheus-operator-crd of its module)
    modules/cloudnative-pg-<version>/config/ (the CNPG module's kustomize tree)
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


RECIPE_FILES = ("go.mod", "go.sum", "recipe.sh")


def module_source_hash(module: str) -> str:
    """The recipe hash in a module's cache directory name; scripts/harness-build.sh agrees.

    sha256 over `path\\0content\\0` of go.mod, go.sum, recipe.sh and every *.go file of
    tests/harness/<module>, paths relative and in byte order; the first 16 hex digits.
    """
    source = HARNESS_DIR / module
    names = sorted(
        path.relative_to(source).as_posix()
        for path in source.rglob("*")
        if path.is_file() and (path.name in RECIPE_FILES or path.name.endswith(".go"))
    )
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + (source / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def module_upstream_version(module: str) -> str | None:
    """Version in go.mod of the module's recipe UPSTREAM (None when the recipe names none)."""
    source = HARNESS_DIR / module
    try:
        recipe = (source / "recipe.sh").read_text()
        go_mod = (source / "go.mod").read_text()
    except FileNotFoundError as missing:
        name = Path(missing.filename).name
        raise HarnessMissing(f"tests/harness/{module} has no {name}") from None
    upstream = re.search(r"^UPSTREAM=(\S*)", recipe, re.MULTILINE)
    if upstream is None or not upstream.group(1):
        return None
    pattern = rf"^\s*(?:require\s+)?{re.escape(upstream.group(1))}\s+(v\S+)"
    match = re.search(pattern, go_mod, re.MULTILINE)
    if match is None:
        raise HarnessMissing(f"tests/harness/{module}/go.mod does not require {upstream.group(1)}")
    return match.group(1)


def module_cache_dir(module: str) -> Path:
    """`<cache>/<module>-<upstream version>-<hash>` (`<module>-<hash>` without an upstream)."""
    version = module_upstream_version(module)
    name = "-".join(part for part in (module, version, module_source_hash(module)) if part)
    return cache_root() / name


def _require_executables(binaries: object) -> None:
    missing = [p for p in vars(binaries).values() if not os.access(p, os.X_OK)]
    if missing:
        raise HarnessMissing(f"missing {', '.join(map(str, missing))}: {BUILD_HINT}")


@dataclass(frozen=True)
class KubeBinaries:
    """The control plane's binaries (tests/harness/kube)."""

    etcd: Path
    apiserver: Path
    controller_manager: Path


def kube_binaries() -> KubeBinaries:
    directory = module_cache_dir("kube")
    binaries = KubeBinaries(
        directory / "etcd", directory / "kube-apiserver", directory / "kube-controller-manager"
    )
    _require_executables(binaries)
    return binaries


@dataclass(frozen=True)
class NodeBinaries:
    """What a single node adds to the control plane, each built from its upstream module."""

    kube_scheduler: Path  # tests/harness/kube
    kubelet: Path
    kube_proxy: Path
    kubectl: Path
    containerd: Path  # tests/harness/containerd
    containerd_shim_runc_v2: Path
    ctr: Path
    coredns: Path  # tests/harness/coredns
    cnpg_manager: Path  # tests/harness/cnpg: the operator, for its image
    kubectl_cnpg: Path
    cert_manager_controller: Path  # tests/harness/cert-manager


def node_binaries() -> NodeBinaries:
    kube, containerd, cnpg = (module_cache_dir(m) for m in ("kube", "containerd", "cnpg"))
    binaries = NodeBinaries(
        kube_scheduler=kube / "kube-scheduler",
        kubelet=kube / "kubelet",
        kube_proxy=kube / "kube-proxy",
        kubectl=kube / "kubectl",
        containerd=containerd / "containerd",
        containerd_shim_runc_v2=containerd / "containerd-shim-runc-v2",
        ctr=containerd / "ctr",
        coredns=module_cache_dir("coredns") / "coredns",
        cnpg_manager=cnpg / "manager",
        kubectl_cnpg=cnpg / "kubectl-cnpg",
        cert_manager_controller=module_cache_dir("cert-manager") / "controller",
    )
    _require_executables(binaries)
    return binaries


def crd_files(project: str) -> list[Path]:
    """CRD YAML files of `cloudnative-pg`, `cert-manager` or `prometheus-operator` at the
    pinned release."""
    key = {
        "cloudnative-pg": "CNPG_VERSION",
        "cert-manager": "CERT_MANAGER_VERSION",
        "prometheus-operator": "PROMETHEUS_OPERATOR_VERSION",
    }[project]
    directory = cache_root() / "crds" / f"{project}-{pins()[key]}"
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise HarnessMissing(f"no {project} CRDs in {directory}: {BUILD_HINT}")
    return files


def cnpg_module_dir() -> Path:
    """A copy of the pinned CNPG module's `config/` tree (kustomize: `config/default`)."""
    directory = cache_root() / "modules" / f"cloudnative-pg-{pins()['CNPG_VERSION']}"
    if not (directory / "config" / "default" / "kustomization.yaml").is_file():
        raise HarnessMissing(f"no CloudNativePG config/ in {directory}: {BUILD_HINT}")
    return directory


def cnpgi_client_source_hash() -> str:
    """Hash of the Go client's go.mod, go.sum, recipe and sources: the cache key of its binary."""
    return module_source_hash("cnpgi-client")


def module_binary(module: str, name: str | None = None) -> Path:
    """The built binary `name` (default: the module's name) of tests/harness/<module>."""
    binary = module_cache_dir(module) / (name or module)
    if not os.access(binary, os.X_OK):
        raise HarnessMissing(f"missing {binary}: {BUILD_HINT}")
    return binary


def cnpgi_client() -> Path:
    return module_binary("cnpgi-client")


def cnpgi_wal_restore() -> Path:
    """The restore_command stand-in calling WAL/Restore as CNPG's instance manager does."""
    return module_binary("cnpgi-wal-restore")


def helm() -> Path:
    """helm, built from the helm.sh/helm/v4 module (tests/harness/helm)."""
    return module_binary("helm")


def actionlint() -> Path:
    """actionlint, built from the github.com/rhysd/actionlint module (tests/harness/actionlint)."""
    return module_binary("actionlint")


def promtool() -> Path:
    """Prometheus's promtool (tests/harness/prometheus): checks and unit-tests monitoring/."""
    return module_binary("prometheus", "promtool")


def local_path_manifest() -> Path:
    """The local-path provisioner's own install manifest, copied from its module."""
    version = module_upstream_version("local-path")
    path = cache_root() / "modules" / f"local-path-provisioner-{version}" / "deploy"
    path = path / "local-path-storage.yaml"
    if not path.is_file():
        raise HarnessMissing(f"no local-path provisioner manifest at {path}: {BUILD_HINT}")
    return path
