"""The operator's side for real: cnpg-i's published Go stubs, dialled the operator's way.

The Go program (tests/harness/cnpgi-client) decodes every answer with the upstream stubs and
fails on unknown fields or enum values, so a mismatch in our .proto files fails these tests.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import PersistentVolumeClaim
from lightkube.types import PatchType
from support import kubeobjects, pluginserver
from support.kubeobjects import Cluster
from support.kubewait import wait_until_gone

from cnpg_wal_replica.metadata import LABEL_KEPT

pytestmark = [pytest.mark.kube, pytest.mark.slow]


async def write_cluster(
    client: AsyncClient, namespace: str, name: str, parameters: dict[str, str], tmp_path: Path
) -> Path:
    cluster = await kubeobjects.create_cluster(client, namespace, name, parameters)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(cluster))
    return path


async def test_operator_sequence_passes_and_post_applies_the_receiver(
    plugin_server: pluginserver.ServerProcess,
    plugin_tls: pluginserver.PluginTLS,
    kube_admin: AsyncClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    cluster_file = await write_cluster(kube_admin, namespace, "pg", {"walPVCSize": "2Gi"}, tmp_path)

    result = pluginserver.run_go_client(plugin_server.address, plugin_tls, cluster_file)

    summary = result.summary
    assert result.returncode == 0, (
        summary.get("failures"),
        result.stderr,
        plugin_server.log_text(),
    )
    assert summary["ok"] is True
    assert summary["tlsVersion"] == "TLS1.3"
    assert summary["metadata"]["name"] == "cnpg-i-wal-replica.documentdb.io"
    assert summary["metadata"]["version"]
    assert set(summary["capabilities"]) >= {"TYPE_OPERATOR_SERVICE", "TYPE_RECONCILER_HOOKS"}
    assert "TYPE_SET_STATUS_IN_CLUSTER" in summary["serviceCapabilities"]["TYPE_OPERATOR_SERVICE"]
    assert summary["serviceCapabilities"]["TYPE_RECONCILER_HOOKS"] == ["KIND_CLUSTER"]
    assert summary["probeReady"] is True
    assert (summary["pre"], summary["post"]) == ("BEHAVIOR_CONTINUE", "BEHAVIOR_CONTINUE")
    assert summary["statusCalled"] is True
    assert isinstance(summary.get("status", {}), dict)
    methods = [call["method"] for call in summary["calls"]]
    assert methods[:2] == ["Identity/GetPluginMetadata", "Identity/GetPluginCapabilities"]
    assert methods[-1] == "Operator/SetStatusInCluster"
    deployment = await kube_admin.get(Deployment, "pg-wal-receiver", namespace=namespace)
    pvc = await kube_admin.get(PersistentVolumeClaim, "pg-wal-receiver", namespace=namespace)
    assert deployment.metadata is not None
    assert pvc.spec is not None
    assert pvc.spec.resources is not None
    assert pvc.spec.resources.requests == {"storage": "2Gi"}


async def test_invalid_parameter_fails_post_naming_it_while_pre_continues(
    plugin_server: pluginserver.ServerProcess,
    plugin_tls: pluginserver.PluginTLS,
    kube_admin: AsyncClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    cluster_file = await write_cluster(
        kube_admin, namespace, "bad", {"walPVCSize": "lots"}, tmp_path
    )

    result = pluginserver.run_go_client(
        plugin_server.address, plugin_tls, cluster_file, "--expect-post-error=walPVCSize"
    )

    assert result.returncode == 0, (result.summary.get("failures"), result.stderr)
    assert result.summary["pre"] == "BEHAVIOR_CONTINUE"
    assert "lots" in result.summary["postError"]
    assert result.summary["statusCalled"] is False  # the operator skips it after a Post error


def test_client_refuses_a_server_certificate_for_another_name(
    plugin_server: pluginserver.ServerProcess, plugin_tls: pluginserver.PluginTLS
) -> None:
    result = pluginserver.run_go_client(
        plugin_server.address, plugin_tls, None, "--checks=probe", server_name="someone-else"
    )

    assert result.returncode == 1
    assert "certificate" in " ".join(result.summary["failures"])
    assert result.summary["calls"][0]["method"] == "Identity/GetPluginMetadata"


def test_client_reports_a_wrong_plugin_name(
    plugin_server: pluginserver.ServerProcess, plugin_tls: pluginserver.PluginTLS
) -> None:
    result = pluginserver.run_go_client(
        plugin_server.address, plugin_tls, None, "--checks=probe", "--expect-name=other.example.io"
    )

    assert result.returncode == 1
    assert result.summary["failures"] == [
        'GetPluginMetadata.name is "cnpg-i-wal-replica.documentdb.io", want "other.example.io"'
    ]


async def test_the_server_cleanup_loop_removes_the_receiver_when_the_plugin_is_dropped(
    plugin_tls: pluginserver.PluginTLS,
    plugin_kubeconfig: str,
    go_client_binary: object,
    kube_admin: AsyncClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    cluster_file = await write_cluster(kube_admin, namespace, "pg", {}, tmp_path)
    args = [f"--receiver-image={pluginserver.RECEIVER_IMAGE}", "--janitor-interval=1"]
    with pluginserver.start_server(
        plugin_tls, plugin_kubeconfig, tmp_path / "serve.log", args
    ) as server:
        posted = await asyncio.to_thread(
            pluginserver.run_go_client, server.address, plugin_tls, cluster_file
        )
        assert posted.returncode == 0, posted.summary.get("failures")
        await kube_admin.get(Deployment, "pg-wal-receiver", namespace=namespace)

        await kube_admin.patch(
            Cluster,
            "pg",
            {"spec": {"plugins": []}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

        await wait_until_gone(kube_admin, Deployment, "pg-wal-receiver", namespace, within=20)
    pvc = (
        await kube_admin.get(PersistentVolumeClaim, "pg-wal-receiver", namespace=namespace)
    ).to_dict()
    assert pvc["metadata"]["labels"][LABEL_KEPT] == "true"
