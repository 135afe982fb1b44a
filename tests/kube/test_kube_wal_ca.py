"""The WAL CA's Certificates on the real API server: what the plugin asks for, and who may.

The shipped admission policies are in force for this module. As the plugin's
ServiceAccount: the reconcile of an origin creates its WAL server's Certificate and Service
(schema-checked against cert-manager's CRD), and the lifecycle hook creates a reading
Cluster's client Certificate on CREATE only. Certificates that name the WAL CA are refused
to everyone else, and to the plugin itself when they claim another namespace's reader, a
foreign host name or a CA; CertificateRequests to it are refused to all but cert-manager.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Service
from support import admissionpolicies, kubeobjects, kubeplane
from support.clusters import instance_pod, reader_document
from support.kubecore import reconciler_on

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigError
from cnpg_wal_replica.kube.applier import Certificate
from cnpg_wal_replica.reading import WAL_CA_ISSUER, reader_uri
from cnpg_wal_replica.specs.reader import build_reader_certificate

pytestmark = [pytest.mark.kube, pytest.mark.slow]

DENIED = "ValidatingAdmissionPolicy 'cnpg-wal-replica-wal-ca' with binding"
CERTIFICATES = "/apis/cert-manager.io/v1/namespaces/{ns}/certificates"
REQUESTS = "/apis/cert-manager.io/v1/namespaces/{ns}/certificaterequests"
FOREIGN_SERVER = "pg-wal-receiver.prod.svc"
IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def reader_certificate(namespace: str, cluster: str = "rep") -> dict[str, Any]:
    document = reader_document(cluster, namespace)
    return build_reader_certificate(ClusterView.from_dict(document))


def dry_run(http: httpx.Client, path: str, obj: dict[str, Any], ns: str) -> httpx.Response:
    return http.post(path.format(ns=ns), params={"dryRun": "All"}, json=obj)


@pytest.fixture(scope="module")
def clients(
    kube_plane: kubeplane.ControlPlane, plugin_kubeconfig: str, cert_manager_crds: list[str]
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(admin, plugin) raw HTTP clients with the shipped policies in force."""
    stranger = reader_certificate("default")
    token = admissionpolicies.kubeconfig_token(plugin_kubeconfig)
    with kube_plane.http() as admin, admissionpolicies.bearer_client(kube_plane, token) as plugin:

        def in_force() -> bool:
            return DENIED in dry_run(admin, CERTIFICATES, stranger, "default").text

        with admissionpolicies.policies_in_force(admin, in_force=in_force):
            yield admin, plugin


def test_the_plugin_may_ask_for_a_reader_of_the_certificates_own_namespace(
    clients: tuple[httpx.Client, httpx.Client],
) -> None:
    _, plugin = clients
    done = dry_run(plugin, CERTIFICATES, reader_certificate("default"), "default")
    assert done.status_code == 201, done.text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c["spec"].update(uris=[reader_uri("prod", "rep")]), "one reader identity"),
        (lambda c: c["spec"].update(isCA=True), "never issues a CA"),
        (lambda c: c["spec"].update(dnsNames=["evil.example"]), "one reader identity"),
        (
            lambda c: (
                c["spec"].pop("uris"),
                c["spec"].update(dnsNames=["pg-wal-receiver.prod.svc"]),
            ),
            "its own namespace",
        ),
        (lambda c: c["spec"].update(ipAddresses=["10.0.0.1"]), "no IP addresses"),
    ],
    ids=["another-namespaces-reader", "a-ca", "a-foreign-host", "another-namespaces-server", "ip"],
)
def test_the_plugin_may_not_ask_for_anything_else(
    clients: tuple[httpx.Client, httpx.Client], change: Callable[[dict[str, Any]], Any], words: str
) -> None:
    _, plugin = clients
    certificate = reader_certificate("default")
    change(certificate)
    done = dry_run(plugin, CERTIFICATES, certificate, "default")
    assert done.status_code == 422, done.text
    assert DENIED in done.text
    assert words in done.text


def test_nobody_else_may_ask_the_wal_ca(clients: tuple[httpx.Client, httpx.Client]) -> None:
    admin, _ = clients
    done = dry_run(admin, CERTIFICATES, reader_certificate("default"), "default")
    assert done.status_code == 422, done.text
    assert "only the plugin" in done.text
    request = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "metadata": {"name": "forged"},
        "spec": {
            "request": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K",
            "issuerRef": {
                "name": WAL_CA_ISSUER,
                "kind": "ClusterIssuer",
                "group": "cert-manager.io",
            },
        },
    }
    done = dry_run(admin, REQUESTS, request, "default")
    assert done.status_code == 422, done.text
    assert "only cert-manager" in done.text


def test_other_issuers_are_not_evaluated(clients: tuple[httpx.Client, httpx.Client]) -> None:
    admin, _ = clients
    certificate = reader_certificate("default")
    certificate["spec"]["issuerRef"] = {"name": "team-ca", "kind": "Issuer"}
    certificate["spec"]["isCA"] = True
    done = dry_run(admin, CERTIFICATES, certificate, "default")
    assert done.status_code == 201, done.text


async def test_the_reconcile_creates_the_wal_servers_certificate_and_service(
    clients: tuple[httpx.Client, httpx.Client],
    kube_admin: AsyncClient,
    kube_plugin_client: AsyncClient,
    namespace: str,
) -> None:
    cluster = await kubeobjects.create_cluster(kube_admin, namespace, "pg", {})
    await reconciler_on(kube_plugin_client, IMAGE).post(kubeobjects.cluster_bytes(cluster))
    certificate = (
        await kube_admin.get(Certificate, "pg-wal-receiver-server", namespace=namespace)
    ).to_dict()
    assert certificate["spec"]["secretName"] == "pg-wal-receiver-server-tls"
    assert f"pg-wal-receiver.{namespace}.svc" in certificate["spec"]["dnsNames"]
    service = await kube_admin.get(Service, "pg-wal-receiver", namespace=namespace)
    assert service.spec is not None
    assert service.spec.ports is not None
    assert [(p.name, p.port) for p in service.spec.ports] == [("wal", 9443)]


async def test_the_reader_certificate_is_created_on_create_not_on_evaluate(
    clients: tuple[httpx.Client, httpx.Client],
    kube_admin: AsyncClient,
    kube_plugin_client: AsyncClient,
    namespace: str,
) -> None:
    reconciler = reconciler_on(kube_plugin_client, IMAGE)
    reader = json.dumps(reader_document("rep", namespace)).encode()
    pod = json.dumps(instance_pod("rep", namespace)).encode()
    evaluated = await reconciler.lifecycle("EVALUATE", reader, pod)
    assert json.loads(evaluated), "EVALUATE injects the sidecar"
    listed = [c async for c in kube_admin.list(Certificate, namespace=namespace)]
    assert listed == [], "EVALUATE writes nothing"
    created = await reconciler.lifecycle("CREATE", reader, pod)
    assert created == evaluated
    certificate = (
        await kube_admin.get(Certificate, "rep-wal-reader", namespace=namespace)
    ).to_dict()
    assert certificate["spec"]["uris"] == [reader_uri(namespace, "rep")]
    assert certificate["spec"]["issuerRef"]["name"] == WAL_CA_ISSUER


async def test_a_bad_source_blocks_the_pod_with_the_field_to_fix(
    kube_plugin_client: AsyncClient, namespace: str
) -> None:
    reconciler = reconciler_on(kube_plugin_client, IMAGE)
    reader = json.dumps(reader_document("rep", namespace, {"namespace": "prod"})).encode()
    pod = json.dumps(instance_pod("rep", namespace)).encode()
    with pytest.raises(
        ConfigError, match=r"spec\.externalClusters\[1\]\.plugin\.parameters\.cluster"
    ):
        await reconciler.lifecycle("CREATE", reader, pod)
