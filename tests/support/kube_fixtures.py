"""pytest fixtures for tests against the real control plane (`kubeplane`).

Use from a conftest with `from support.kube_fixtures import *  # noqa: F403` (the `tests/`
directory must be on sys.path). Fixtures:

- `kube_plane`: the session's control plane (CNPG CRDs installed). When the binaries are not
  built it skips, or fails when `CI=true`, saying to run `scripts/kube-harness build`.
- `kube_admin`: lightkube AsyncClient as a `system:masters` user (client certificate).
- `kube_plugin_client`: lightkube AsyncClient as ServiceAccount cnpg-system/cnpg-wal-replica
  bound to the ClusterRole(s) shipped in `deploy/`; skips while `deploy/` has none.
- `namespace`: a fresh namespace per test, deleted afterwards.
- `cert_manager_crds`: installs cert-manager's CRDs (pinned release) into `kube_plane`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from lightkube import AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from support import harnesspaths, kubeobjects, kubeplane

__all__ = [
    "cert_manager_crds",
    "kube_admin",
    "kube_plane",
    "kube_plugin_client",
    "namespace",
    "plugin_kubeconfig",
]


def skip_or_fail(reason: str) -> None:
    """In CI a missing harness is a failure; on a workstation it is a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kube_plane() -> Iterator[kubeplane.ControlPlane]:
    try:
        plane = kubeplane.start()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(f"Kubernetes test harness not built: {missing}")
        raise  # unreachable: skip_or_fail raises
    try:
        yield plane
    finally:
        plane.stop()


def install_pinned_crds(
    plane: kubeplane.ControlPlane, project: str, only: tuple[str, ...] = ()
) -> list[str]:
    """Install a project's CRDs at the pinned release (``only``: those file names); skip, or
    fail with CI=true, when the harness has not copied them."""
    try:
        files = harnesspaths.crd_files(project)
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise
    return plane.install_crds([f for f in files if not only or f.name in only])


@pytest.fixture(scope="session")
def cert_manager_crds(kube_plane: kubeplane.ControlPlane) -> list[str]:
    return install_pinned_crds(kube_plane, "cert-manager")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube_admin(
    kube_plane: kubeplane.ControlPlane, cert_manager_crds: list[str]
) -> AsyncIterator[AsyncClient]:
    """Admin client of a plane with cert-manager's CRDs, as every install of the plugin has
    (it asks cert-manager for the WAL server's certificates)."""
    client = AsyncClient(
        KubeConfig.from_file(kube_plane.admin_kubeconfig), field_manager="kube-harness"
    )
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def plugin_kubeconfig(kube_plane: kubeplane.ControlPlane, kube_admin: AsyncClient) -> str:
    """Path of a kubeconfig authenticating as the plugin's ServiceAccount (token)."""
    roles = kubeobjects.shipped_cluster_roles()
    if not roles:
        pytest.skip("deploy/**/*.yaml ships no ClusterRole yet: nothing to bind the plugin to")
    token = await kubeobjects.install_plugin_identity(kube_admin, roles)
    path = kube_plane.workdir / "plugin.kubeconfig"
    kube_plane.write_kubeconfig(path, {"token": token}, namespace=kubeobjects.PLUGIN_NAMESPACE)
    return str(path)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube_plugin_client(plugin_kubeconfig: str) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(KubeConfig.from_file(plugin_kubeconfig), field_manager="cnpg-wal-replica")
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube_admin: AsyncClient) -> AsyncIterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    await kube_admin.create(Namespace(metadata=ObjectMeta(name=name)))
    yield name
    await kube_admin.delete(Namespace, name)
