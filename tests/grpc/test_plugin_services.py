"""Every CNPG-I RPC over real mutual TLS, against the test-double core (see plugin_doubles)."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from pathlib import Path

import grpc
import jsonpatch
import pytest
from support.grpcserver import Pki, Running, running_server
from support.plugin_doubles import BAD_SIZE, BAD_SLOT, DEFAULTS_PATCH, SECRET_MARKER, cluster_json

from cnpg_wal_replica import __version__
from cnpg_wal_replica._pb import (
    identity_pb2,
    identity_pb2_grpc,
    operator_lifecycle_pb2,
    operator_lifecycle_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    reconciler_pb2,
    reconciler_pb2_grpc,
)

Service = identity_pb2.PluginCapability.Service
RPC = operator_pb2.OperatorCapability.RPC
Behavior = reconciler_pb2.ReconcilerHooksResult


async def test_metadata_is_complete(channel: grpc.aio.Channel) -> None:
    meta = await identity_pb2_grpc.IdentityStub(channel).GetPluginMetadata(
        identity_pb2.GetPluginMetadataRequest()
    )
    assert meta.name == "cnpg-i-wal-replica.documentdb.io"
    assert meta.version == __version__
    for field in (
        "display_name",
        "description",
        "project_url",
        "repository_url",
        "license",
        "license_url",
        "vendor",
    ):
        assert getattr(meta, field), field
    assert meta.maturity in {"alpha", "beta", "stable"}


async def test_identity_lists_exactly_the_implemented_services(
    channel: grpc.aio.Channel,
) -> None:
    result = await identity_pb2_grpc.IdentityStub(channel).GetPluginCapabilities(
        identity_pb2.GetPluginCapabilitiesRequest()
    )
    assert all(c.HasField("service") for c in result.capabilities)
    assert sorted(c.service.type for c in result.capabilities) == sorted(
        [
            Service.TYPE_OPERATOR_SERVICE,
            Service.TYPE_RECONCILER_HOOKS,
            Service.TYPE_LIFECYCLE_SERVICE,
        ]
    )


async def test_probe_is_ready(channel: grpc.aio.Channel) -> None:
    probe = await identity_pb2_grpc.IdentityStub(channel).Probe(identity_pb2.ProbeRequest())
    assert probe.ready is True


async def test_operator_capabilities_leave_out_set_status_by_default(
    channel: grpc.aio.Channel,
) -> None:
    result = await operator_pb2_grpc.OperatorStub(channel).GetCapabilities(
        operator_pb2.OperatorCapabilitiesRequest()
    )
    assert all(c.HasField("rpc") for c in result.capabilities)
    assert [c.rpc.type for c in result.capabilities] == [
        RPC.TYPE_VALIDATE_CLUSTER_CREATE,
        RPC.TYPE_VALIDATE_CLUSTER_CHANGE,
        RPC.TYPE_MUTATE_CLUSTER,
    ]


async def test_set_status_is_advertised_when_enabled(pki: Pki, tmp_path: Path) -> None:
    async with (
        running_server(pki, tmp_path, enable_set_status=True) as running,
        running.channel() as ch,
    ):
        result = await operator_pb2_grpc.OperatorStub(ch).GetCapabilities(
            operator_pb2.OperatorCapabilitiesRequest()
        )
    types = [c.rpc.type for c in result.capabilities]
    assert RPC.TYPE_SET_STATUS_IN_CLUSTER in types
    assert RPC.TYPE_DEREGISTER not in types


async def test_validate_create_maps_issues_to_validation_errors(
    channel: grpc.aio.Channel,
) -> None:
    stub = operator_pb2_grpc.OperatorStub(channel)
    valid = await stub.ValidateClusterCreate(
        operator_pb2.OperatorValidateClusterCreateRequest(definition=cluster_json())
    )
    assert list(valid.validation_errors) == []
    invalid = await stub.ValidateClusterCreate(
        operator_pb2.OperatorValidateClusterCreateRequest(
            definition=cluster_json(**{"test/invalid": "yes"})
        )
    )
    got = [(list(e.path_components), e.value, e.message) for e in invalid.validation_errors]
    assert got == [
        (list(BAD_SIZE.path), BAD_SIZE.value, BAD_SIZE.message),
        (list(BAD_SLOT.path), BAD_SLOT.value, BAD_SLOT.message),
    ]
    assert got[0][0][:3] == ["spec", "plugins", "0"]


async def test_validate_change_sends_old_and_new(channel: grpc.aio.Channel) -> None:
    stub = operator_pb2_grpc.OperatorStub(channel)
    unchanged = await stub.ValidateClusterChange(
        operator_pb2.OperatorValidateClusterChangeRequest(
            old_cluster=cluster_json(), new_cluster=cluster_json()
        )
    )
    assert list(unchanged.validation_errors) == []
    changed = await stub.ValidateClusterChange(
        operator_pb2.OperatorValidateClusterChangeRequest(
            old_cluster=cluster_json(), new_cluster=cluster_json(**{"test/slot": "other"})
        )
    )
    assert [e.path_components[-1] for e in changed.validation_errors] == ["slotName"]


async def test_mutate_returns_a_patch_that_applies_to_the_request(
    channel: grpc.aio.Channel,
) -> None:
    definition = cluster_json()
    result = await operator_pb2_grpc.OperatorStub(channel).MutateCluster(
        operator_pb2.OperatorMutateClusterRequest(definition=definition)
    )
    assert json.loads(result.json_patch) == DEFAULTS_PATCH
    patched = jsonpatch.apply_patch(json.loads(definition), json.loads(result.json_patch))
    assert patched["spec"]["plugins"][0]["parameters"] == {"walPVCSize": "10Gi"}


async def test_set_status_returns_a_json_object(channel: grpc.aio.Channel) -> None:
    result = await operator_pb2_grpc.OperatorStub(channel).SetStatusInCluster(
        operator_pb2.SetStatusInClusterRequest(cluster=cluster_json())
    )
    status = json.loads(result.json_status)
    assert isinstance(status, dict)
    assert status["deployment"] == "pg-wal-receiver"


async def test_deregister_answers_empty(channel: grpc.aio.Channel) -> None:
    result = await operator_pb2_grpc.OperatorStub(channel).Deregister(
        operator_pb2.DeregisterRequest(definition=cluster_json())
    )
    assert result == operator_pb2.DeregisterResponse()


async def test_reconciler_hooks_only_clusters(channel: grpc.aio.Channel) -> None:
    result = await reconciler_pb2_grpc.ReconcilerHooksStub(channel).GetCapabilities(
        reconciler_pb2.ReconcilerHooksCapabilitiesRequest()
    )
    assert [c.kind for c in result.reconciler_capabilities] == [
        reconciler_pb2.ReconcilerHooksCapability.KIND_CLUSTER
    ]


def _hooks(cluster: bytes, resource: bytes | None = None) -> reconciler_pb2.ReconcilerHooksRequest:
    return reconciler_pb2.ReconcilerHooksRequest(
        cluster_definition=cluster, resource_definition=resource or cluster
    )


@pytest.mark.parametrize(
    "resource",
    [
        cluster_json(),
        cluster_json(**{"test/raise": "pre"}),  # the core fails: still CONTINUE
        cluster_json(kind="Backup"),
        b"not json at all",
    ],
    ids=["cluster", "core-raises", "backup", "garbage"],
)
async def test_pre_always_continues(
    server: Running, channel: grpc.aio.Channel, resource: bytes
) -> None:
    before = len(server.core.calls)
    result = await reconciler_pb2_grpc.ReconcilerHooksStub(channel).Pre(
        _hooks(cluster_json(), resource)
    )
    assert result.behavior == Behavior.BEHAVIOR_CONTINUE
    called = [name for name, _ in server.core.calls[before:]]
    is_cluster = resource.startswith(b"{") and json.loads(resource)["kind"] == "Cluster"
    assert called == (["pre"] if is_cluster else [])


async def test_post_applies_clusters_and_continues(
    server: Running, channel: grpc.aio.Channel
) -> None:
    before = len(server.core.calls)
    stub = reconciler_pb2_grpc.ReconcilerHooksStub(channel)
    result = await stub.Post(_hooks(cluster_json(name="alpha")))
    assert result.behavior == Behavior.BEHAVIOR_CONTINUE
    assert server.core.calls[before:] == [("post", cluster_json(name="alpha"))]
    backup = await stub.Post(_hooks(cluster_json(), cluster_json(kind="Backup")))
    assert backup.behavior == Behavior.BEHAVIOR_CONTINUE
    assert len(server.core.calls) == before + 1  # a Backup never reaches the core


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("config", grpc.StatusCode.INVALID_ARGUMENT),
        ("decode", grpc.StatusCode.INVALID_ARGUMENT),
        ("apply", grpc.StatusCode.UNAVAILABLE),
        ("bug", grpc.StatusCode.INTERNAL),
    ],
)
async def test_post_errors_become_status_codes(
    channel: grpc.aio.Channel, failure: str, code: grpc.StatusCode
) -> None:
    stub = reconciler_pb2_grpc.ReconcilerHooksStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Post(_hooks(cluster_json(**{"test/raise": failure})))
    assert caught.value.code() == code
    details = caught.value.details() or ""
    assert SECRET_MARKER not in details
    if failure == "config":
        # What the user reads in the Cluster's phase reason: parameter, bad value, a fix.
        assert "walPVCSize" in details
        assert "'-1Gi'" in details
        assert "10Gi" in details
    if failure == "bug":
        assert "internal error" in details


async def test_post_on_unreadable_resource_is_invalid_argument(
    channel: grpc.aio.Channel,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await reconciler_pb2_grpc.ReconcilerHooksStub(channel).Post(
            _hooks(b"{not json", b"{not json")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("failure", "code"),
    [("config", grpc.StatusCode.INVALID_ARGUMENT), ("bug", grpc.StatusCode.INTERNAL)],
)
async def test_operator_rpc_errors_become_status_codes(
    channel: grpc.aio.Channel, failure: str, code: grpc.StatusCode
) -> None:
    stub = operator_pb2_grpc.OperatorStub(channel)
    definition = cluster_json(**{"test/raise": failure})
    calls: list[Awaitable[object]] = [
        stub.ValidateClusterCreate(
            operator_pb2.OperatorValidateClusterCreateRequest(definition=definition)
        ),
        stub.MutateCluster(operator_pb2.OperatorMutateClusterRequest(definition=definition)),
        stub.SetStatusInCluster(operator_pb2.SetStatusInClusterRequest(cluster=definition)),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == code
        assert SECRET_MARKER not in (caught.value.details() or "")


# --- OperatorLifecycle ----------------------------------------------------------------

Op = operator_lifecycle_pb2.OperatorOperationType


def _lifecycle(
    verb: operator_lifecycle_pb2.OperatorOperationType.Type.ValueType, cluster: bytes
) -> operator_lifecycle_pb2.OperatorLifecycleRequest:
    pod = json.dumps({"kind": "Pod", "apiVersion": "v1", "metadata": {"labels": {}}}).encode()
    return operator_lifecycle_pb2.OperatorLifecycleRequest(
        operation_type=Op(type=verb), cluster_definition=cluster, object_definition=pod
    )


async def test_lifecycle_hooks_pods_and_jobs_only(channel: grpc.aio.Channel) -> None:
    stub = operator_lifecycle_pb2_grpc.OperatorLifecycleStub(channel)
    reply = await stub.GetCapabilities(
        operator_lifecycle_pb2.OperatorLifecycleCapabilitiesRequest()
    )
    hooked = {
        (c.group, c.kind): sorted(Op.Type.Name(o.type) for o in c.operation_types)
        for c in reply.lifecycle_capabilities
    }
    assert hooked == {
        ("", "Pod"): ["TYPE_CREATE", "TYPE_EVALUATE"],
        ("batch", "Job"): ["TYPE_CREATE"],
    }


async def test_lifecycle_hands_the_verb_and_object_to_the_core(
    server: Running, channel: grpc.aio.Channel
) -> None:
    stub = operator_lifecycle_pb2_grpc.OperatorLifecycleStub(channel)
    before = len(server.core.calls)
    request = _lifecycle(Op.TYPE_EVALUATE, cluster_json(**{"test/inject": "yes"}))
    reply = await stub.LifecycleHook(request)
    patched = jsonpatch.apply_patch(json.loads(request.object_definition), reply.json_patch)
    assert patched["metadata"]["labels"] == {"injected": "yes"}
    unchanged = await stub.LifecycleHook(_lifecycle(Op.TYPE_CREATE, cluster_json()))
    assert unchanged.json_patch == b""
    assert [call for call, _ in server.core.calls[before:]] == [
        "lifecycle EVALUATE",
        "lifecycle CREATE",
    ]


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("config", grpc.StatusCode.INVALID_ARGUMENT),
        ("apply", grpc.StatusCode.UNAVAILABLE),
        ("bug", grpc.StatusCode.INTERNAL),
    ],
)
async def test_lifecycle_errors_become_status_codes(
    channel: grpc.aio.Channel, failure: str, code: grpc.StatusCode
) -> None:
    """The operator does not create the pod and retries; the message is the phase reason."""
    stub = operator_lifecycle_pb2_grpc.OperatorLifecycleStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.LifecycleHook(
            _lifecycle(Op.TYPE_CREATE, cluster_json(**{"test/raise": failure}))
        )
    assert caught.value.code() == code
    assert SECRET_MARKER not in (caught.value.details() or "")
