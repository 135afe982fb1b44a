"""Install on the node what a CNPG user has: cert-manager, storage, CNPG, and our plugin.

Each comes from its own project's manifests, with only the image replaced by the locally
built one (there is no registry) and pull policies that never pull:

- cert-manager: its controller built from its module, run as a process in the node's
  namespaces with a kubeconfig (its CRDs are installed with the control plane). Bound to
  `cluster-admin` in this harness; cert-manager's own chart grants less.
- local-path provisioner (Rancher, what kind uses): its `deploy/local-path-storage.yaml`,
  volumes under the node's root, helper pods from the local Debian image; the default
  StorageClass. It cannot expand volumes.
- CloudNativePG: `config/default` of its module through kustomize, the operator image built
  from its `manager`, `POSTGRES_IMAGE_NAME` set to the local PostgreSQL image.
- cnpg-wal-replica: `deploy/` of this repository through kustomize, image replaced.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from support import harnesspaths, kubenode

CNPG_NAMESPACE = "cnpg-system"
PLUGIN_IMAGE_NAME = "ghcr.io/documentdb/cnpg-wal-replica"
REPO_ROOT = harnesspaths.REPO_ROOT


def _apply_docs(node: kubenode.Node, docs: list[dict[str, Any]]) -> None:
    node.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        input="\n---\n".join(yaml.safe_dump(d) for d in docs),
    )


def _rollout(node: kubenode.Node, namespace: str, deployment: str, timeout: int = 300) -> None:
    node.kubectl(
        "-n",
        namespace,
        "rollout",
        "status",
        f"deployment/{deployment}",
        f"--timeout={timeout}s",
        timeout=timeout + 30,
    )


def install_cert_manager(node: kubenode.Node) -> None:
    binaries = harnesspaths.node_binaries()
    _apply_docs(
        node,
        [
            # Its namespace, as cert-manager's manifests create it: the cluster resource
            # namespace, where ClusterIssuers' Secrets live (deploy/wal-ca.yaml).
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "harness:cert-manager"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "User",
                        "name": kubenode.CERT_MANAGER_USER,
                    }
                ],
            },
        ],
    )
    kubeconfig = node.layout.run / "cert-manager.kubeconfig"
    kubenode._spawn(
        node,
        "cert-manager",
        [
            str(binaries.cert_manager_controller),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--cluster-resource-namespace=cert-manager",
            "--enable-certificate-owner-ref=true",
        ],
        tied=True,
    )


def _local_path_docs(node: kubenode.Node) -> list[dict[str, Any]]:
    source = harnesspaths.local_path_manifest()
    docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
    for doc in docs:
        kind = doc["kind"]
        if kind == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["image"] = node.image_refs["local-path-provisioner"]
            container["imagePullPolicy"] = "Never"
        elif kind == "StorageClass":
            doc["metadata"].setdefault("annotations", {})[
                "storageclass.kubernetes.io/is-default-class"
            ] = "true"
        elif kind == "ConfigMap":
            data = doc["data"]
            data["config.json"] = json.dumps(
                {
                    "nodePathMap": [
                        {
                            "node": "DEFAULT_PATH_FOR_NON_LISTED_NODES",
                            "paths": [str(node.layout.volumes)],
                        }
                    ]
                }
            )
            helper = yaml.safe_load(data["helperPod.yaml"])
            helper["spec"]["containers"][0]["image"] = node.image_refs["debian-python"]
            helper["spec"]["containers"][0]["imagePullPolicy"] = "Never"
            data["helperPod.yaml"] = yaml.safe_dump(helper)
    return docs


def install_local_path(node: kubenode.Node) -> None:
    _apply_docs(node, _local_path_docs(node))
    _rollout(node, "local-path-storage", "local-path-provisioner")


def _kustomize_overlay(directory: Path, base: Path, kustomization: dict[str, Any]) -> Path:
    """An overlay on `base` (kustomize refuses an absolute path: it gets a relative one)."""
    overlay = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(base, directory)],
        **kustomization,
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return directory


def install_cnpg(node: kubenode.Node) -> None:
    operator = node.image_refs["cnpg-operator"]
    name, _, tag = operator.rpartition(":")
    with tempfile.TemporaryDirectory() as tmp:
        overlay = _kustomize_overlay(
            Path(tmp),
            harnesspaths.cnpg_module_dir() / "config" / "default",
            {
                "images": [{"name": "controller", "newName": name, "newTag": tag}],
                "patches": [
                    {
                        "target": {"kind": "Deployment", "name": "controller-manager"},
                        "patch": json.dumps(
                            [
                                {
                                    "op": "replace",
                                    "path": "/spec/template/spec/containers/0/imagePullPolicy",
                                    "value": "Never",
                                }
                            ]
                        ),
                    }
                ],
            },
        )
        node.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(overlay), timeout=300)
    _apply_docs(
        node,
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cnpg-controller-manager-config", "namespace": CNPG_NAMESPACE},
                "data": {"POSTGRES_IMAGE_NAME": node.image_refs["postgresql"]},
            }
        ],
    )
    _rollout(node, CNPG_NAMESPACE, "cnpg-controller-manager")


def install_plugin(node: kubenode.Node) -> None:
    ref = node.image_refs["cnpg-wal-replica"]
    name, _, tag = ref.rpartition(":")
    with tempfile.TemporaryDirectory() as tmp:
        overlay = _kustomize_overlay(
            Path(tmp),
            REPO_ROOT / "deploy",
            {
                "images": [{"name": PLUGIN_IMAGE_NAME, "newName": name, "newTag": tag}],
                # As docs/installation.md says for an overlay: deploy/'s own replacement ran
                # before this overlay's image change, so PLUGIN_IMAGE is copied again.
                "replacements": yaml.safe_load(
                    (REPO_ROOT / "deploy" / "kustomization.yaml").read_text()
                )["replacements"],
            },
        )
        node.kubectl("apply", "-k", str(overlay), timeout=120)
    _rollout(node, CNPG_NAMESPACE, "cnpg-wal-replica")


def install_all(node: kubenode.Node) -> None:
    steps = [
        ("cert-manager", install_cert_manager),
        ("local-path", install_local_path),
        ("cnpg", install_cnpg),
        ("plugin", install_plugin),
    ]
    for name, step in steps:
        started = time.monotonic()
        kubenode.log(f"installing {name}")
        step(node)
        node.timings[f"install {name}"] = time.monotonic() - started
