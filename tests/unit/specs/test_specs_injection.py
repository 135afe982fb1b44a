"""The restore sidecar's patch: what it adds, where, and that applying it twice changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import kubernetes_validate
import pytest
from support.clusters import bootstrap_job, cluster_document, instance_pod, reader_document

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.reading import READER_TLS_MOUNT, reader_uri
from cnpg_wal_replica.sidecar.settings import SidecarSettings
from cnpg_wal_replica.specs.injection import NotInjectableError, sidecar_patch, target
from cnpg_wal_replica.specs.reader import SIDECAR_NAME, build_reader_certificate

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
KUBERNETES_VERSION = "1.34"


def patched(document: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    view = ClusterView.from_dict(document)
    found = target(view, obj)
    assert found is not None
    ops = sidecar_patch(view, found, IMAGE, obj)
    return dict(jsonpatch.apply_patch(obj, ops))


def sidecar_of(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (sidecar,) = [c for c in pod_spec["initContainers"] if c["name"] == SIDECAR_NAME]
    return dict(sidecar)


def test_a_replica_clusters_instance_pod_gets_a_native_sidecar() -> None:
    pod = patched(reader_document(), instance_pod())
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["bootstrap-controller", SIDECAR_NAME]
    sidecar = sidecar_of(spec)
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["command"] == ["cnpg-wal-replica"]
    assert sidecar["args"] == ["sidecar"]
    assert sidecar["image"] == IMAGE
    # Kubernetes starts the PostgreSQL container only once the socket is there.
    assert sidecar["startupProbe"]["exec"]["command"] == [
        "test",
        "-S",
        "/plugins/cnpg-i-wal-replica.documentdb.io",
    ]
    postgres = spec["containers"][0]
    assert {"name": "plugins", "mountPath": "/plugins"} in postgres["volumeMounts"]
    assert {"name": "plugins", "emptyDir": {}} in spec["volumes"]
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_the_sidecar_gets_only_the_data_mounts_its_certificate_spool_and_plugins() -> None:
    sidecar = sidecar_of(patched(reader_document(), instance_pod())["spec"])
    mounts = {m["mountPath"]: m["name"] for m in sidecar["volumeMounts"]}
    assert mounts == {
        "/var/lib/postgresql/data": "pgdata",
        "/plugins": "plugins",
        READER_TLS_MOUNT: "wal-reader-tls",
        "/var/lib/wal-replica/spool": "wal-replica-spool",
    }, "no app secret, no /controller (the instance manager), no /dev/shm"
    assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True
    assert sidecar["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "runAsUser" not in sidecar["securityContext"], "the pod's postgres UID writes the files"


def test_the_sidecar_environment_is_a_valid_sidecar_configuration() -> None:
    sidecar = sidecar_of(patched(reader_document(), instance_pod())["spec"])
    env = {e["name"].removeprefix("WAL_READER_").lower(): e["value"] for e in sidecar["env"]}
    settings = SidecarSettings(**env)  # type: ignore[arg-type]
    assert settings.server == "pg-wal-receiver.prod.svc:9443"
    assert settings.tls_server_name == "pg-wal-receiver.prod.svc"
    assert str(settings.tls_directory) == READER_TLS_MOUNT


def test_the_certificate_secret_is_the_readers_own() -> None:
    document = reader_document()
    pod = patched(document, instance_pod())
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "wal-reader-tls"]
    certificate = build_reader_certificate(ClusterView.from_dict(document))
    assert (
        volume["secret"]["secretName"] == certificate["spec"]["secretName"] == "rep-wal-reader-tls"
    )
    assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}
    assert certificate["spec"]["uris"] == [reader_uri("dr", "rep")]
    assert certificate["spec"]["usages"] == ["client auth"]
    assert certificate["metadata"]["namespace"] == "dr"


def test_injecting_into_an_injected_pod_changes_nothing() -> None:
    """CREATE receives the pod EVALUATE already patched: the same patch must be a no-op."""
    once = patched(reader_document(), instance_pod())
    twice = patched(reader_document(), copy.deepcopy(once))
    assert twice == once


def test_an_existing_plugins_volume_of_another_plugin_is_shared() -> None:
    pod = instance_pod()
    pod["spec"]["volumes"].append({"name": "plugins", "emptyDir": {}})
    pod["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "plugins", "mountPath": "/plugins"}
    )
    spec = patched(reader_document(), pod)["spec"]
    assert [v["name"] for v in spec["volumes"]].count("plugins") == 1
    assert [m["mountPath"] for m in spec["containers"][0]["volumeMounts"]].count("/plugins") == 1


@pytest.mark.parametrize("role", ["full-recovery", "snapshot-recovery"])
def test_a_recovery_job_gets_the_sidecar_beside_its_role_container(role: str) -> None:
    job = patched(reader_document(use="recovery"), bootstrap_job(role))
    spec = job["spec"]["template"]["spec"]
    assert sidecar_of(spec)["restartPolicy"] == "Always"
    assert {"name": "plugins", "mountPath": "/plugins"} in spec["containers"][0]["volumeMounts"]
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("role", ["initdb", "join", "pgbasebackup", "import", "major-upgrade"])
def test_jobs_that_never_restore_wal_are_left_alone(role: str) -> None:
    view = ClusterView.from_dict(reader_document(use="recovery"))
    assert target(view, bootstrap_job(role)) is None


def test_a_replica_clusters_jobs_and_a_recovering_clusters_pods_are_left_alone() -> None:
    replica = ClusterView.from_dict(reader_document())
    recovering = ClusterView.from_dict(reader_document(use="recovery"))
    assert target(replica, bootstrap_job("full-recovery")) is None
    assert target(recovering, instance_pod()) is None


def test_an_origins_pods_are_left_alone() -> None:
    assert target(ClusterView.from_dict(cluster_document()), instance_pod("pg", "app")) is None


def test_other_kinds_are_left_alone() -> None:
    view = ClusterView.from_dict(reader_document())
    assert target(view, {"kind": "Service", "metadata": {"name": "rep-rw"}}) is None


def test_a_pod_without_a_postgres_container_is_refused_by_name() -> None:
    pod = instance_pod()
    pod["spec"]["containers"][0]["name"] = "pg"
    view = ClusterView.from_dict(reader_document())
    found = target(view, pod)
    assert found is not None
    with pytest.raises(NotInjectableError, match="no container named 'postgres'"):
        sidecar_patch(view, found, IMAGE, pod)
