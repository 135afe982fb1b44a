"""The e2e suite: the real CNPG operator, PostgreSQL pods and our image on the harness node.

`kube_node` brings up the single-node Kubernetes of `support.kubenode` once per session and
installs cert-manager, the local-path provisioner, CNPG and the plugin from their manifests.
It needs root (namespaces, mounts, cgroups). When the harness or the images were not built it
skips, or fails with `CI=true`.

A Cluster takes a minute or more to become healthy, mostly waiting. So that the scenarios do
not wait one after the other, every selected test module that defines `launch(node)` has it
called once the node is installed, before any test runs: each applies its Cluster(s) there,
idempotently, and its fixtures apply them again (a no-op) and wait.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from support import harnesspaths, kubenode, nodeinstall, nodens, podusage
from support.kube_fixtures import skip_or_fail


def _launchers(session: pytest.Session) -> list[Callable[[kubenode.Node], None]]:
    """`launch` of every module that has selected tests, in collection order."""
    found = (getattr(item, "module", None) for item in session.items)
    modules = dict.fromkeys(module for module in found if module is not None)
    return [module.launch for module in modules if callable(getattr(module, "launch", None))]


@pytest.fixture(scope="session")
def kube_node(request: pytest.FixtureRequest) -> Iterator[kubenode.Node]:
    if os.geteuid() != 0:
        skip_or_fail("the e2e node needs root (network and mount namespaces, cgroups)")
    try:
        node = kubenode.start()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(f"e2e node not built: {missing}")
        raise
    try:
        nodeinstall.install_all(node)
        for step, seconds in node.timings.items():
            print(f"kube-node: {step}: {seconds:.1f} s")
        for launch in _launchers(request.session):
            launch(node)
        usage = podusage.UsageSampler(node, "cnpg-system", "cnpg-wal-replica-")
        usage.start()
        yield node
        usage.stop()
        for line in usage.report():
            print(f"kube-node: plugin server pod {line}")
    finally:
        node.stop()
    left = nodens.leftovers(node.layout)
    assert not left, f"the node left these behind: {left}"


@pytest.fixture
def e2e_namespace(kube_node: kubenode.Node) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kube_node.kubectl("create", "namespace", name)
    yield name
    kube_node.kubectl("delete", "namespace", name, "--wait=false", check=False)
