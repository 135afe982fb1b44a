"""Waiting on the control plane: objects the garbage collector removes, audit events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from support.kubeplane import ControlPlane


async def wait_until_gone(
    client: AsyncClient, resource: type, name: str, namespace: str, within: float = 30
) -> None:
    """Poll until the object is deleted (by the garbage collector) or fail after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        try:
            await client.get(resource, name, namespace=namespace)
        except ApiError as error:
            if error.status.code == 404:
                return
            raise
        await asyncio.sleep(0.2)
    pytest.fail(f"{resource.__name__} {namespace}/{name} still exists after {within}s")


async def wait_for_audit(
    plane: ControlPlane, offset: int, user: str, minimum: int, within: float = 10
) -> list[dict[str, Any]]:
    """Audit events are written just after the response: wait until `minimum` appear."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        writes = plane.audit_writes(offset, user=user)
        if len(writes) >= minimum or loop.time() > deadline:
            return writes
        await asyncio.sleep(0.05)


async def settle_audit(
    plane: ControlPlane, admin: AsyncClient, namespace: str, offset: int
) -> None:
    """Return once every request made before the call is in the audit log.

    A sentinel write by the admin (a label on `namespace`) marks the end: once it is logged,
    earlier events are too.
    """
    await admin.patch(
        Namespace,
        namespace,
        {"metadata": {"labels": {"sentinel": str(offset)}}},
        patch_type=PatchType.MERGE,
    )
    await wait_for_audit(plane, offset, "kube-harness-admin", minimum=1)
    await asyncio.sleep(0.2)
