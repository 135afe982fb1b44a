"""Property, against the real API server: a named refusal, or objects it accepts.

For every Cluster CNPG admits (its CRD on the harness API server, plus its webhook's limits:
a DNS-1035 name of at most 50 characters) and every map of plugin parameters, the plugin
either refuses with issues that name the field a user edits, the bad value and a valid
example (and the Warning Event that reports them is accepted), or builds a PVC, a
Deployment and a drop-slot Job that the API server accepts (server-side dry run with strict
field validation: nothing is persisted).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from support import kubeobjects, kubeplane

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import CNPG_MAX_NAME, ClusterView
from cnpg_wal_replica.errors import ConfigError
from cnpg_wal_replica.kube.events import EventRecorder
from cnpg_wal_replica.parameters import BY_NAME
from cnpg_wal_replica.specs.job import build_drop_slot_job

pytestmark = [pytest.mark.kube, pytest.mark.slow]

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
LONGEST = "a" + "0123456789-" * 4 + "abcd" + "z"
assert len(LONGEST) == CNPG_MAX_NAME, "the webhook's limit, the extreme case"
PATHS = {
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Cluster": "/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters",
    "Event": "/api/v1/namespaces/{ns}/events",
}
VALID: dict[str, list[str]] = {
    "image": [IMAGE, "registry.example.com:5000/team/receiver@sha256:" + "a" * 64],
    "replicationHost": ["{name}-rw", "10.0.0.7"],
    "synchronous": ["active", "INACTIVE"],
    "walDirectory": ["/var/lib/postgresql/wal", "/data/wal", "/mnt/" + "w" * 255],
    "walPVCSize": ["32Mi", "10Gi", "1Ei", "9223372036854775807"],
    "walStorageClass": ["fast-ssd", "a." + "b" * 250],
    "slotName": ["wal_replica", "s" * 63],
    "applicationName": ["mycluster-wal-receiver", "x" * 63, "with spaces & 'quotes'"],
    "compression": ["none", "gzip:9", "lz4:12", "0"],
    "verbose": ["true", "False"],
    "cpuRequest": ["1m", "100m", "1"],
    "cpuLimit": ["1", "1000"],
    "memoryRequest": ["32Mi", "128Mi"],
    "memoryLimit": ["512Mi", "4Ei"],
    "retentionMaxAge": ["1s", "7d", "5200w"],
    "retentionMaxSize": ["16Mi", "8Gi"],
}
TRICKY = [
    "",
    " ",
    "é" * 120,
    "//etc",
    "/opt/venv",
    "/data/../etc",
    "1e999",
    "-1",
    "$(id)",
    "a\nb",
    "é",
]

cluster_names = st.one_of(
    st.sampled_from([LONGEST, "b" * 41, "c" * 40, "d"]),
    st.from_regex(rf"[a-z]([-a-z0-9]{{0,{CNPG_MAX_NAME - 2}}}[a-z0-9])?", fullmatch=True),
)
free_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def parameter_maps(draw: st.DrawFn) -> dict[str, str]:
    """Mostly valid values (so most examples build objects), sometimes anything at all."""
    chosen = draw(st.lists(st.sampled_from(sorted(VALID)), unique=True, max_size=9))
    params = {}
    for name in chosen:
        if draw(st.sampled_from(["valid"] * 7 + ["anything"])) == "anything":
            params[name] = draw(st.one_of(st.sampled_from(TRICKY), free_text))
        else:
            params[name] = draw(st.sampled_from(VALID[name]))
    if draw(st.sampled_from([False] * 15 + [True])):
        params[draw(st.sampled_from(["nope", "walDir", "Image"]))] = "1"
    return params


@pytest.fixture(scope="module")
def api(kube_plane: kubeplane.ControlPlane) -> Iterator[tuple[httpx.Client, list[str]]]:
    """Admin HTTP client and two namespaces: a short name and one of 63 characters."""
    tag = uuid.uuid4().hex[:8]
    namespaces = [f"p-{tag}", f"p-{tag}-" + "n" * (63 - len(tag) - 3)]
    with kube_plane.http() as http:
        for name in namespaces:
            created = http.post(
                "/api/v1/namespaces",
                json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            )
            assert created.status_code == 201, created.text
        yield http, namespaces
        for name in namespaces:
            http.delete(f"/api/v1/namespaces/{name}")


def dry_run(http: httpx.Client, obj: dict[str, Any], namespace: str) -> httpx.Response:
    return http.post(
        PATHS[obj["kind"]].format(ns=namespace),
        params={"dryRun": "All", "fieldValidation": "Strict"},
        content=json.dumps(obj),
        headers={"Content-Type": "application/json"},
    )


def admitted_cluster(
    http: httpx.Client, name: str, namespace: str, parameters: dict[str, str]
) -> dict[str, Any] | None:
    """The Cluster as the operator would send it, or None when CNPG's CRD refuses it."""
    manifest = kubeobjects.cluster_manifest(name, namespace, parameters)
    response = dry_run(http, manifest, namespace)
    if response.status_code != 201:
        assert response.status_code == 422, response.text
        return None
    cluster: dict[str, Any] = response.json()
    cluster["status"] = kubeobjects.operator_status(name)
    return cluster


def assert_named(issue: Any, parameters: dict[str, str]) -> None:
    """The issue names the field a user edits, the value as written, and a valid example."""
    assert issue.field.startswith(("spec.plugins[0].", "metadata.")), issue.field
    if issue.parameter in parameters:
        assert issue.value == parameters[issue.parameter]
    if "known parameters" in issue.message:
        return
    assert issue.message.count("(example: ") == 1, issue.message
    if issue.parameter in BY_NAME:
        written = issue.message.split(f"(example: {issue.parameter}: ")[1].rsplit(")", 1)[0]
        BY_NAME[issue.parameter].parse(json.loads(written))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=cluster_names, parameters=parameter_maps(), long_namespace=st.booleans())
@example(name=LONGEST, parameters={}, long_namespace=True)
@example(name=LONGEST, parameters={"applicationName": "x" * 63}, long_namespace=False)
def test_a_named_refusal_or_objects_the_api_server_accepts(
    api: tuple[httpx.Client, list[str]],
    name: str,
    parameters: dict[str, str],
    long_namespace: bool,
) -> None:
    http, namespaces = api
    namespace = namespaces[long_namespace]
    parameters = {k: v.replace("{name}", name) for k, v in parameters.items()}
    cluster = admitted_cluster(http, name, namespace, parameters)
    if cluster is None:
        event("CNPG's CRD refuses the Cluster")
        return  # CNPG itself refuses this Cluster; nothing to answer for
    view = ClusterView.from_dict(cluster)
    configuration, issues = config.collect(view, IMAGE)
    if configuration is None:
        event("refused: " + ", ".join(sorted({i.parameter for i in issues})))
        assert issues
        for issue in issues:
            assert_named(issue, parameters)
        report = EventRecorder._event(
            view, "Warning", "InvalidConfiguration", str(ConfigError(issues))
        )
        response = dry_run(http, report, namespace)
        assert response.status_code == 201, f"the Event of {issues}: {response.text}"
        return
    event("objects accepted" + (" (Job name shortened)" if len(name) > 40 else ""))
    pvc, deployment, *_ = specs.desired_objects(view, configuration)
    for obj in (pvc, deployment, build_drop_slot_job(name, deployment)):
        response = dry_run(http, obj, namespace)
        assert response.status_code == 201, (
            f"{obj['kind']} {obj['metadata']['name']} for Cluster {name!r} "
            f"with {parameters}: {response.text}"
        )


def test_the_property_would_catch_a_job_name_too_long(api: tuple[httpx.Client, list[str]]) -> None:
    """The API server refuses a Job whose name cannot be its pods' job-name label."""
    http, namespaces = api
    cluster = admitted_cluster(http, LONGEST, namespaces[0], {})
    assert cluster is not None
    view = ClusterView.from_dict(cluster)
    deployment = specs.desired_objects(view, config.parse(view, IMAGE))[1]
    job = build_drop_slot_job(LONGEST, deployment)
    job["metadata"]["name"] = f"{LONGEST}-wal-receiver-drop-slot"  # the name before the fix
    response = dry_run(http, job, namespaces[0])
    assert response.status_code == 422, response.text
    assert "must be no more than 63 characters" in response.text
