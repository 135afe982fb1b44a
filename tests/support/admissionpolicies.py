"""The admission policies deploy/ ships, in force on the real API server, and raw HTTP clients.

    with kube_plane.http() as admin, policies_in_force(admin, in_force=probe):
        ...   # every shipped ValidatingAdmissionPolicy and binding applies here

`policies_in_force` creates them as `kubectl apply -k deploy/` renders them, waits until
``in_force`` (a request the policies must refuse) says they apply, and checks that the API
server found no CEL type-check warnings; on exit it deletes them and waits until they no
longer apply, so the next module starts without them.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from support import kubeobjects, kubeplane
from support.kubepaths import collection_path, object_path

KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")


def shipped_policies() -> list[dict[str, Any]]:
    """The policies and bindings of deploy/, policies first, as kustomize renders them."""
    return [d for d in kubeobjects.rendered_deploy() if d["kind"] in KINDS]


def wait_until(check: Callable[[], bool], what: str, within: float = 30) -> None:
    """Poll ``check`` every 0.2 s; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def bearer_client(plane: kubeplane.ControlPlane, token: str) -> httpx.Client:
    """Raw HTTP to the API server with a bearer token (a ServiceAccount's)."""
    context = ssl.create_default_context(cafile=str(plane.ca_cert))
    return httpx.Client(
        base_url=plane.server,
        verify=context,
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )


def kubeconfig_token(kubeconfig: str) -> str:
    """The token of the first user in a kubeconfig file (the `plugin_kubeconfig` fixture's)."""
    return str(yaml.safe_load(Path(kubeconfig).read_text())["users"][0]["user"]["token"])


@contextlib.contextmanager
def policies_in_force(admin: httpx.Client, *, in_force: Callable[[], bool]) -> Iterator[None]:
    """Every shipped policy and binding in force for the ``with`` block (see the module doc)."""
    shipped = shipped_policies()
    try:
        for doc in shipped:
            created = admin.post(collection_path(doc), json=doc)
            assert created.status_code == 201, created.text
        wait_until(in_force, "the shipped admission policies never applied")
        for doc in shipped:
            if doc["kind"] == "ValidatingAdmissionPolicy":
                policy = admin.get(object_path(doc, "")).json()
                checking = policy.get("status", {}).get("typeChecking", {})
                warnings = checking.get("expressionWarnings", [])
                assert warnings == [], f"CEL type-check warnings in {policy['metadata']['name']}"
        yield
    finally:
        for doc in reversed(shipped):
            admin.delete(object_path(doc, ""))
        wait_until(lambda: not in_force(), "the shipped admission policies stayed in force")
