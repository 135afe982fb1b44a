"""DeferredCore: what the server answers before the real core is open."""

from __future__ import annotations

import grpc
import pytest
from support.plugin_doubles import RecordingCore, cluster_json

from cnpg_wal_replica.plugin.deferred import CoreNotReadyError, DeferredCore
from cnpg_wal_replica.plugin.status import to_status


async def test_before_attach() -> None:
    core = DeferredCore(wait_timeout=0.05)
    core.pre(cluster_json())  # nothing to do, and no failure
    with pytest.raises(CoreNotReadyError):
        core.validate_create(cluster_json())
    with pytest.raises(CoreNotReadyError) as caught:
        await core.post(cluster_json())
    assert to_status(caught.value)[0] == grpc.StatusCode.UNAVAILABLE


async def test_after_attach_forwards_every_call() -> None:
    core, real = DeferredCore(), RecordingCore()
    core.attach(real)
    core.pre(cluster_json())
    await core.post(cluster_json())
    core.validate_create(cluster_json())
    core.validate_change(cluster_json(), cluster_json())
    assert core.mutate(cluster_json())
    assert (await core.status(cluster_json()))["ready"] is True
    assert [name for name, _ in real.calls] == [
        "pre",
        "post",
        "validate_create",
        "validate_change",
        "mutate",
        "status",
    ]
