"""The plugin's Deployment env and the receiver's settings cannot drift: one feeds the other."""

from __future__ import annotations

import pytest
from support.clusters import cluster_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.receiver.settings import load_settings
from cnpg_wal_replica.specs.job import build_drop_slot_job


def deployment_env(parameters: dict[str, str]) -> dict[str, str]:
    view = ClusterView.from_dict(cluster_document(parameters=parameters))
    deployment = specs.desired_objects(view, config.parse(view, "r:1"))[1]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {
            "synchronous": "active",
            "compression": "7",
            "retentionMaxAge": "36h",
            "retentionMaxSize": "4Gi",
            "slotName": "receiver_a",
            "applicationName": "custom-name",
            "walDirectory": "/data/wal",
            "verbose": "true",
            "readers": "dr/rep, staging/*",
        },
    ],
)
def test_deployment_env_is_valid_receiver_settings(
    parameters: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = deployment_env(parameters)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    cfg = config.parse(ClusterView.from_dict(cluster_document(parameters=parameters)), "r:1")
    assert settings.host == cfg.replication_host
    assert settings.user == "streaming_replica"
    assert settings.sslmode == "verify-full"
    assert str(settings.sslrootcert) == "/etc/wal-receiver/ca/ca.crt"
    assert settings.slot_name == cfg.slot_name
    assert settings.application_name == cfg.application_name
    assert str(settings.wal_directory) == cfg.wal_directory
    assert settings.verbose is cfg.verbose
    assert settings.compression.argument() == cfg.compression
    assert settings.retention_max_age == cfg.retention_max_age_seconds
    assert settings.retention_max_size == cfg.retention_max_size_bytes
    assert settings.http_address == ("0.0.0.0", 8080)
    # The WAL server is always on, for the Cluster's namespace and the `readers` patterns.
    assert str(settings.serve_tls_directory) == "/etc/wal-receiver/wal-server"
    assert settings.serve_address == ("0.0.0.0", 9443)
    assert settings.namespace == "app"
    assert ", ".join(map(str, settings.readers)) == cfg.readers


def test_drop_slot_job_env_names_are_receiver_settings() -> None:
    view = ClusterView.from_dict(cluster_document())
    deployment = specs.desired_objects(view, config.parse(view, "r:1"))[1]
    job = build_drop_slot_job("pg", deployment)
    names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"WAL_RECEIVER_HOST", "WAL_RECEIVER_SLOT_NAME", "WAL_RECEIVER_SSLKEY"} <= names
