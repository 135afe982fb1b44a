"""Receiver objects: names, ownership, security, mounts, probes, labels, env contract."""

from __future__ import annotations

from typing import Any

import pytest
from support.clusters import cluster_document, reader_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.metadata import ANNOTATION_SECRETS
from cnpg_wal_replica.specs.job import build_drop_slot_job
from cnpg_wal_replica.specs.reader import build_reader_certificate

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def build(
    parameters: dict[str, str] | None = None, **changes: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    doc = cluster_document(parameters=parameters)
    for path, value in changes.items():
        node = doc
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    view = ClusterView.from_dict(doc)
    pvc, deployment, *_ = specs.desired_objects(view, config.parse(view, IMAGE))
    return pvc, deployment


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(deployment)["env"]}


def test_pvc_belongs_to_no_cluster() -> None:
    pvc, _ = build({"walPVCSize": "20Gi", "walStorageClass": "fast"})
    assert pvc["metadata"]["name"] == "pg-wal-receiver"
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert pvc["spec"]["storageClassName"] == "fast"
    assert "ownerReferences" not in pvc["metadata"], "the WAL outlives the Cluster"


def test_pvc_without_class_leaves_it_to_the_cluster_default() -> None:
    pvc, _ = build()
    assert "storageClassName" not in pvc["spec"]


def test_deployment_shape() -> None:
    _, dep = build()
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert "ownerReferences" not in dep["metadata"], "it serves the WAL after the Cluster is gone"
    assert container(dep)["command"] == ["cnpg-wal-replica"]
    assert container(dep)["args"] == ["receive"]


def test_owner_reference_group_comes_from_the_request() -> None:
    document = reader_document()
    document["apiVersion"] = "postgresql.example.org/v1"
    certificate = build_reader_certificate(ClusterView.from_dict(document))
    (owner,) = certificate["metadata"]["ownerReferences"]
    assert owner["apiVersion"] == "postgresql.example.org/v1"
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Cluster", "rep", False)


def test_only_ca_crt_is_mounted_from_the_ca_secret() -> None:
    _, dep = build()
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    ca = volumes["server-ca"]["secret"]
    assert ca["secretName"] == "pg-ca"
    assert ca["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    tls = volumes["replication-tls"]["secret"]
    assert tls["secretName"] == "pg-replication"
    assert tls["defaultMode"] == 0o440
    assert volumes["wal"]["persistentVolumeClaim"]["claimName"] == "pg-wal-receiver"


def test_user_certificate_secrets_from_status_are_used() -> None:
    _, dep = build(
        status__certificates={"serverCASecret": "my-ca", "replicationTLSSecret": "my-repl"}
    )
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert volumes["server-ca"]["secret"]["secretName"] == "my-ca"
    assert volumes["replication-tls"]["secret"]["secretName"] == "my-repl"


def test_secret_name_change_changes_pod_template_annotation() -> None:
    _, before = build()
    _, after = build(status__certificates={"serverCASecret": "rotated-ca"})
    key = ANNOTATION_SECRETS
    assert (
        before["spec"]["template"]["metadata"]["annotations"][key]
        != after["spec"]["template"]["metadata"]["annotations"][key]
    )


def test_security_context_uses_cluster_uid_and_is_restricted() -> None:
    _, dep = build(spec__postgresUID=1001, spec__postgresGID=1002)
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["securityContext"]["runAsGroup"] == 1002
    assert pod["securityContext"]["fsGroup"] == 1002
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container(dep)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


def test_labels_never_carry_cnpg_pod_roles() -> None:
    _, dep = build()
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert labels["cnpg.io/cluster"] == "pg"
    assert labels["app.kubernetes.io/component"] == "wal-receiver"
    assert labels["app.kubernetes.io/managed-by"] == "cnpg-wal-replica"
    assert not {"cnpg.io/podRole", "cnpg.io/instanceRole", "role"} & set(labels)


def test_probes_hit_the_receiver_health_endpoints() -> None:
    _, dep = build()
    c = container(dep)
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["ports"][0]["containerPort"] == 8080


def test_env_carries_the_configuration() -> None:
    _, dep = build(
        {
            "compression": "lz4",
            "walDirectory": "/data/wal",
            "retentionMaxAge": "2d",
            "retentionMaxSize": "5Gi",
        }
    )
    e = env(dep)
    assert e["WAL_RECEIVER_HOST"] == "pg-rw"
    assert e["WAL_RECEIVER_SSLMODE"] == "verify-full"
    assert e["WAL_RECEIVER_COMPRESSION"] == "lz4"
    assert e["WAL_RECEIVER_WAL_DIRECTORY"] == "/data/wal"
    assert e["WAL_RECEIVER_APPLICATION_NAME"] == "pg-wal-receiver"
    assert e["WAL_RECEIVER_RETENTION_MAX_AGE"] == "172800s"
    assert e["WAL_RECEIVER_RETENTION_MAX_SIZE"] == str(5 * 2**30)
    mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
    assert mounts["/data/wal"] == "wal"


def test_the_synchronous_parameter_changes_nothing_in_the_receiver() -> None:
    """It only selects what the plugin checks (docs/parameters.md): same objects either way."""

    def objects(parameters: dict[str, str]) -> list[dict[str, Any]]:
        view = ClusterView.from_dict(cluster_document(parameters=parameters, uid="u-1"))
        return specs.desired_objects(view, config.parse(view, IMAGE))

    assert objects({"synchronous": "active"}) == objects({"synchronous": "inactive"})
    assert objects({"synchronous": "active"}) == objects({})


def test_resources_only_when_given() -> None:
    _, dep = build()
    assert "resources" not in container(dep)
    _, dep = build({"cpuRequest": "100m", "memoryLimit": "1Gi"})
    assert container(dep)["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}


@pytest.mark.parametrize("name", ["pg", "a" * 40])
def test_drop_slot_job_reuses_receiver_credentials_without_the_volume(name: str) -> None:
    doc = cluster_document(name=name)
    view = ClusterView.from_dict(doc)
    deployment = specs.desired_objects(view, config.parse(view, IMAGE))[1]
    job = build_drop_slot_job(name, deployment)
    pod = job["spec"]["template"]["spec"]
    assert job["metadata"]["name"] == f"{name}-wal-receiver-drop-slot"
    assert all(not ref["controller"] for ref in job["metadata"]["ownerReferences"])
    assert pod["containers"][0]["args"] == ["drop-slot"]
    assert {v["name"] for v in pod["volumes"]} == {"server-ca", "replication-tls", "tmp"}
    names = {e["name"] for e in pod["containers"][0]["env"]}
    assert "WAL_RECEIVER_SLOT_NAME" in names
    assert "WAL_RECEIVER_WAL_DIRECTORY" not in names
