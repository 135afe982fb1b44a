"""An API server that cannot be reached: UNAVAILABLE naming it, and Events never fail a call."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator

import grpc
import pytest
from lightkube import AsyncClient, KubeConfig
from support.clusters import cluster_document
from support.kubecore import reconciler_on

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ApplyError
from cnpg_wal_replica.kube.applier import KubeApplier
from cnpg_wal_replica.kube.events import EventRecorder
from cnpg_wal_replica.plugin.status import to_status

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    config = KubeConfig.from_dict(
        {
            "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{closed_port()}"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )
    async with AsyncClient(config, timeout=5) as client:
        yield client


async def test_applier_get_names_the_api_server(client: AsyncClient) -> None:
    with pytest.raises(ApplyError, match=r"cannot reach the Kubernetes API server at http://127"):
        await KubeApplier(client).get("Deployment", "pg-wal-receiver", "default")


async def test_every_applier_write_maps_to_apply_error(client: AsyncClient) -> None:
    applier = KubeApplier(client)
    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "x", "namespace": "default"}}
    with pytest.raises(ApplyError, match="to apply PersistentVolumeClaim"):
        await applier.apply(pvc)
    with pytest.raises(ApplyError, match="to delete Job"):
        await applier.delete("Job", "x", "default")
    with pytest.raises(ApplyError, match="to label Deployment"):
        await applier.patch_labels("Deployment", "x", "default", {"a": None})
    with pytest.raises(ApplyError, match="to create PersistentVolumeClaim"):
        await applier.create(pvc)
    with pytest.raises(ApplyError, match="to list Cluster"):
        await applier.list("Cluster")


async def test_events_never_raise(client: AsyncClient) -> None:
    view = ClusterView.from_dict(cluster_document())
    assert await EventRecorder(client).record(view, "Normal", "Test", "hello") is False


@pytest.mark.parametrize("call", ["post", "status"])
async def test_post_and_status_answer_unavailable(client: AsyncClient, call: str) -> None:
    reconciler = reconciler_on(client, IMAGE)
    payload = cluster_document()

    with pytest.raises(ApplyError) as caught:
        await getattr(reconciler, call)(json.dumps(payload).encode())
    code, message = to_status(caught.value)
    assert code is grpc.StatusCode.UNAVAILABLE
    assert "Kubernetes API server" in message


async def test_events_never_fail_a_call_whatever_the_client_raises() -> None:
    class Broken:
        async def create(self, obj: object) -> None:
            raise RuntimeError("boom")

    view = ClusterView.from_dict(cluster_document())
    recorder = EventRecorder(Broken())  # type: ignore[arg-type]
    assert await recorder.record(view, "Normal", "X", "y") is False
