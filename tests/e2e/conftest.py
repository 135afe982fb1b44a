"""The e2e suite: the real CNPG operator, PostgreSQL pods and our image on the harness node.

`kube_node` brings up the single-node Kubernetes of `support.kubenode` once per session and
installs cert-manager, the local-path provisioner, CNPG and the plugin from their manifests.
It needs root (namespaces, mounts, cgroups). When the harness or the images were not built it
skips, or fails with `CI=true`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from support import harnesspaths, kubenode, nodeinstall, nodens
from support.kube_fixtures import skip_or_fail


@pytest.fixture(scope="session")
def kube_node() -> Iterator[kubenode.Node]:
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
        yield node
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
