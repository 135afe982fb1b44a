"""The receiver's WAL server objects: a Service readers dial and a certificate with its name."""

from __future__ import annotations

from typing import Any

from support.clusters import cluster_document, instance_pod, reader_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.reading import WAL_CA_ISSUER
from cnpg_wal_replica.specs.injection import sidecar_patch, target

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def objects(namespace: str = "prod") -> dict[str, dict[str, Any]]:
    view = ClusterView.from_dict(cluster_document("pg", namespace))
    return {o["kind"]: o for o in specs.desired_objects(view, config.parse(view, IMAGE))}


def test_the_service_reaches_the_receivers_wal_port_ready_or_not() -> None:
    built = objects()
    service, deployment = built["Service"], built["Deployment"]
    assert service["metadata"]["name"] == deployment["metadata"]["name"] == "pg-wal-receiver"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (port,) = service["spec"]["ports"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[port["targetPort"]] == port["port"] == 9443
    assert service["spec"]["publishNotReadyAddresses"] is True, (
        "the receiver is not ready when its primary is gone: then readers need it most"
    )
    assert "ownerReferences" not in service["metadata"] or not any(
        ref.get("controller") for ref in service["metadata"]["ownerReferences"]
    ), "CNPG would count a Service it controls as its own"


def test_the_server_certificate_carries_the_name_the_sidecar_dials() -> None:
    certificate = objects()["Certificate"]
    reader = ClusterView.from_dict(reader_document())
    pod = instance_pod()
    found = target(reader, pod)
    assert found is not None
    (sidecar,) = [
        c
        for op in sidecar_patch(reader, found, IMAGE, pod)
        if op["path"].endswith("initContainers")
        for c in op["value"]
        if c["name"] == "cnpg-wal-replica"
    ]
    server = next(e["value"] for e in sidecar["env"] if e["name"] == "WAL_READER_SERVER")
    assert server.rpartition(":")[0] in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["usages"] == ["server auth"]
    assert certificate["spec"]["issuerRef"] == {
        "name": WAL_CA_ISSUER,
        "kind": "ClusterIssuer",
        "group": "cert-manager.io",
    }
    assert "uris" not in certificate["spec"], "a server certificate is no reader identity"


def test_the_receiver_mounts_the_server_secret_read_only() -> None:
    built = objects()
    pod = built["Deployment"]["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "wal-server-tls"]
    assert volume["secret"]["secretName"] == built["Certificate"]["spec"]["secretName"]
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "wal-server-tls"]
    assert mount["readOnly"] is True
