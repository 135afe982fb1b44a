"""Configuration: every rule, the defaults, the error texts, change rules and the mutate patch."""

from __future__ import annotations

import json
import re

import jsonpatch
import pytest
from support.clusters import cluster_document

from cnpg_wal_replica import config, mutation
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ClusterDecodeError, ConfigError, shown
from cnpg_wal_replica.parameters import BY_NAME

IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def view(parameters: dict[str, str] | None = None, **kwargs: object) -> ClusterView:
    return ClusterView.from_dict(cluster_document(parameters=parameters, **kwargs))  # type: ignore[arg-type]


def issues_of(parameters: dict[str, str], image: str | None = IMAGE) -> dict[str, str]:
    configuration, issues = config.collect(view(parameters), image)
    assert configuration is None
    return {issue.parameter: issue.message for issue in issues}


def test_defaults_when_no_parameters() -> None:
    cfg = config.parse(view(None), IMAGE)
    assert cfg.image == IMAGE
    assert cfg.replication_host == "pg-rw"
    assert cfg.synchronous is False
    assert cfg.wal_directory == "/var/lib/postgresql/wal"
    assert (cfg.wal_pvc_size, cfg.wal_pvc_bytes) == ("10Gi", 10 * 2**30)
    assert cfg.wal_storage_class is None
    assert cfg.slot_name == "wal_replica"
    assert cfg.application_name == "pg-wal-receiver"
    assert cfg.compression == "none"
    assert cfg.verbose is False
    assert cfg.retention_max_age_seconds is None
    assert cfg.retention_max_size_bytes is None


def test_every_parameter_is_applied() -> None:
    cfg = config.parse(
        view(
            {
                "image": "registry.example.com:5000/team/receiver:1.2@sha256:" + "a" * 64,
                "replicationHost": "pg-rw.app.svc",
                "synchronous": "ACTIVE",
                "walDirectory": "/data/wal",
                "walPVCSize": "20Gi",
                "walStorageClass": "fast-ssd",
                "slotName": "receiver_1",
                "applicationName": "my-receiver",
                "compression": "6",
                "verbose": "True",
                "cpuRequest": "100m",
                "cpuLimit": "1",
                "memoryRequest": "128Mi",
                "memoryLimit": "512Mi",
                "retentionMaxAge": "7d",
                "retentionMaxSize": "8Gi",
            }
        ),
        None,
    )
    assert cfg.replication_host == "pg-rw.app.svc"
    assert cfg.synchronous is True
    assert cfg.verbose is True
    assert cfg.compression == "gzip:6"
    assert cfg.wal_storage_class == "fast-ssd"
    assert cfg.retention_max_age_seconds == 7 * 86400
    assert cfg.retention_max_size_bytes == 8 * 2**30
    assert (cfg.cpu_request, cfg.cpu_limit, cfg.memory_request, cfg.memory_limit) == (
        "100m",
        "1",
        "128Mi",
        "512Mi",
    )


@pytest.mark.parametrize(
    ("parameter", "value", "fragment"),
    [
        ("image", "Not An Image!", "is not a container image reference"),
        ("replicationHost", "bad_host!", "neither a host name nor an IP"),
        ("synchronous", "yes", "must be active or inactive"),
        ("walDirectory", "relative/wal", "must be an absolute path"),
        ("walDirectory", "/", "must not be the root directory"),
        ("walDirectory", "/data/../wal", "not normalised: no empty, '.' or '..' parts"),
        ("walDirectory", "/data//wal", '(example: walDirectory: "/data/wal")'),
        ("walDirectory", "/data/wal/", '(example: walDirectory: "/data/wal")'),
        ("walDirectory", "/data/../etc", '(example: walDirectory: "/var/lib/postgresql/wal")'),
        ("walDirectory", "//", "not normalised"),
        ("walDirectory", "//etc", "not normalised"),
        ("walDirectory", "//proc/self", "not normalised"),
        ("walDirectory", "/etc/wal", "system directory /etc"),
        ("walDirectory", "/opt/venv", "system directory /opt/venv"),
        ("walDirectory", "/opt/venv/lib", "system directory /opt/venv"),
        ("walDirectory", "/opt", "parent of the system directory /opt/venv"),
        ("walDirectory", "/var", "parent of the system directory"),
        ("walDirectory", "/data/wal dir", "only ASCII letters"),
        ("walDirectory", "/dätä/wal", "only ASCII letters"),
        ("walDirectory", "/data/\x00wal", "only ASCII letters"),
        ("walDirectory", "/data/" + "w" * 256, "part longer than 255"),
        ("walDirectory", "/data" * 205, "longer than 1024"),
        ("walPVCSize", "0", "greater than zero"),
        ("walPVCSize", "99999999999999999999999Ei", "larger than Kubernetes can represent"),
        ("walPVCSize", "1e999", "larger than Kubernetes can represent"),
        ("walPVCSize", "250m", "not a whole number of bytes"),
        ("walPVCSize", "1Mi", "smaller than 32Mi"),
        ("walPVCSize", "9" * 400, "longer than 64 characters"),
        ("cpuLimit", "1e999", "more than 1000 CPUs"),
        ("cpuLimit", "1n", "finer than a millicore"),
        ("memoryLimit", "1n", "not a whole number of bytes"),
        ("memoryLimit", "1Ki", "smaller than 32Mi"),
        ("retentionMaxAge", "9" * 400, "longer than 64 characters"),
        ("retentionMaxAge", "999999d", "longer than 100 years"),
        ("compression", "lz4:99", "lz4 level outside 1-12"),
        ("walPVCSize", "ten gigs", "not a Kubernetes quantity"),
        ("walStorageClass", "Fast_SSD", "StorageClass name"),
        ("slotName", "_cnpg_mine", "must not start with _cnpg_"),
        ("slotName", "Has-Dash", "lower-case letters"),
        ("applicationName", 'say "hi"', "printable ASCII"),
        ("applicationName", "x" * 64, "longer than 63 bytes"),
        ("compression", "zstd", "must be none, gzip"),
        ("compression", "gzip:10", "gzip level outside 1-9"),
        ("compression", "12", "gzip level from 0"),
        ("verbose", "maybe", "must be true or false"),
        ("cpuRequest", "-1", "greater than zero"),
        ("memoryLimit", "lots", "not a Kubernetes quantity"),
        ("retentionMaxAge", "a week", "not a positive duration"),
        ("retentionMaxSize", "1.5", "not a whole number of bytes"),
    ],
)
def test_invalid_values_name_parameter_value_and_example(
    parameter: str, value: str, fragment: str
) -> None:
    _, issues = config.collect(view({parameter: value}), IMAGE)
    assert len(issues) == 1
    issue = issues[0]
    assert issue.path == ("spec", "plugins", "0", "parameters", parameter)
    assert issue.field == f"spec.plugins[0].parameters.{parameter}"
    assert issue.value == value
    assert fragment in issue.message
    assert issue.describe().startswith(f"spec.plugins[0].parameters.{parameter}={shown(value)!r}: ")
    # One example, and a valid one: it passes the parameter's own parser.
    assert issue.message.count("example") == 1
    example = json.loads(issue.message.split(f"(example: {parameter}: ")[1].rstrip(")"))
    BY_NAME[parameter].parse(example)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("none", "none"),
        ("0", "none"),
        ("gzip", "gzip"),
        ("GZIP:9", "gzip:9"),
        ("lz4", "lz4"),
        ("lz4:12", "lz4:12"),
        ("1", "gzip:1"),
    ],
)
def test_compression_forms(raw: str, normal: str) -> None:
    assert config.parse(view({"compression": raw}), IMAGE).compression == normal


def test_unknown_parameter_lists_the_known_ones() -> None:
    messages = issues_of({"walPvcSize": "20Gi"})
    assert "is not a parameter of this plugin" in messages["walPvcSize"]
    assert "walPVCSize" in messages["walPvcSize"]


def test_all_problems_are_reported_at_once() -> None:
    messages = issues_of({"synchronous": "on", "walPVCSize": "-5Gi", "nope": "1"})
    assert set(messages) == {"synchronous", "walPVCSize", "nope"}


def test_request_may_not_exceed_limit() -> None:
    messages = issues_of(
        {"cpuRequest": "2", "cpuLimit": "500m", "memoryRequest": "1Gi", "memoryLimit": "2Gi"}
    )
    assert set(messages) == {"cpuRequest"}
    assert "exceeds cpuLimit '500m'" in messages["cpuRequest"]


def test_retention_size_must_be_below_volume_size() -> None:
    messages = issues_of({"walPVCSize": "10Gi", "retentionMaxSize": "10Gi"})
    assert "not smaller than walPVCSize '10Gi'" in messages["retentionMaxSize"]


def test_missing_image_is_an_error_that_says_how_to_fix_it() -> None:
    messages = issues_of({}, image=None)
    assert "--receiver-image" in messages["image"]


def test_disabled_rw_service_needs_replication_host() -> None:
    doc = cluster_document()
    doc["spec"]["managed"] = {"services": {"disabledDefaultServices": ["rw", "ro"]}}
    _, issues = config.collect(ClusterView.from_dict(doc), IMAGE)
    assert [i.parameter for i in issues] == ["replicationHost"]
    assert "disables its -rw Service" in issues[0].message
    doc["spec"]["plugins"][0]["parameters"] = {"replicationHost": "pg-r"}
    assert config.parse(ClusterView.from_dict(doc), IMAGE).replication_host == "pg-r"


def test_replication_host_must_be_in_the_server_certificate() -> None:
    messages = issues_of({"replicationHost": "elsewhere.example.com"})
    assert "spec.certificates.serverAltDNSNames" in messages["replicationHost"]
    assert config.parse(view({"replicationHost": "PG-RW.app.svc"}), IMAGE)


def test_plugin_index_is_the_entry_position() -> None:
    doc = cluster_document(parameters={"verbose": "loud"})
    doc["spec"]["plugins"].insert(0, {"name": "barman-cloud.cloudnative-pg.io"})
    _, issues = config.collect(ClusterView.from_dict(doc), IMAGE)
    assert issues[0].path == ("spec", "plugins", "1", "parameters", "verbose")
    assert issues[0].field == "spec.plugins[1].parameters.verbose"


@pytest.mark.parametrize(
    ("value", "kind"),
    [(10, "a number"), (True, "a boolean"), (None, "null"), ({"a": 1}, "an object")],
)
def test_a_parameter_that_is_not_a_string_is_refused(value: object, kind: str) -> None:
    _, issues = config.collect(view({"walPVCSize": value}), IMAGE)  # type: ignore[dict-item]
    assert [i.field for i in issues] == ["spec.plugins[0].parameters.walPVCSize"]
    assert f"is {kind}, not a string; parameter values must be quoted strings" in (
        issues[0].message
    )
    assert '(example: walPVCSize: "20Gi")' in issues[0].message


def test_the_plugin_listed_twice_is_refused() -> None:
    doc = cluster_document()
    doc["spec"]["plugins"].append({"name": doc["spec"]["plugins"][0]["name"]})
    _, issues = config.collect(ClusterView.from_dict(doc), IMAGE)
    assert [i.field for i in issues] == ["spec.plugins[1].name"]
    assert "a second time (first at spec.plugins[0])" in issues[0].message


def test_enabled_that_is_not_a_boolean_is_refused() -> None:
    doc = cluster_document()
    doc["spec"]["plugins"][0]["enabled"] = "yes"
    cluster = ClusterView.from_dict(doc)
    assert cluster.plugin_enabled  # so that Post reports it instead of ignoring the entry
    _, issues = config.collect(cluster, IMAGE)
    assert [i.field for i in issues] == ["spec.plugins[0].enabled"]
    assert "boolean true or false, unquoted" in issues[0].message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"spec": []}, "spec must be an object, not an array"),
        ({"spec": {"plugins": "x"}}, "spec.plugins must be an array, not a string"),
        ({"spec": {"plugins": [3]}}, "spec.plugins[0] must be an object, not a number"),
        ({"metadata": "pg"}, "metadata must be an object, not a string"),
    ],
)
def test_wrong_json_types_are_named(change: dict[str, object], fragment: str) -> None:
    doc = {**cluster_document(), **change}
    with pytest.raises(ClusterDecodeError, match=re.escape(fragment)):
        ClusterView.from_dict(doc)


def test_wrong_parameters_type_is_named() -> None:
    doc = cluster_document()
    doc["spec"]["plugins"][0]["parameters"] = ["walPVCSize"]
    with pytest.raises(ClusterDecodeError, match=r"spec.plugins\[0\].parameters must be an"):
        ClusterView.from_dict(doc)


def test_null_containers_mean_empty() -> None:
    doc = cluster_document()
    doc["spec"]["plugins"][0]["parameters"] = None
    assert config.parse(ClusterView.from_dict(doc), IMAGE).wal_pvc_size == "10Gi"
    assert ClusterView.from_dict({**doc, "spec": None}).plugin is None


def test_every_documented_example_passes_its_own_parser() -> None:
    for spec in BY_NAME.values():
        spec.parse(spec.example)


def test_config_error_message_lists_every_issue() -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(view({"synchronous": "on", "verbose": "x"}), IMAGE)
    text = str(caught.value)
    assert "synchronous='on'" in text
    assert "verbose='x'" in text


def test_change_rules() -> None:
    old = view({"walPVCSize": "20Gi", "walDirectory": "/data/wal", "slotName": "a"})
    new = view({"walPVCSize": "10Gi", "walDirectory": "/data/other", "slotName": "b"})
    issues = {i.parameter: i.message for i in config.check_change(old, new, IMAGE)}
    assert set(issues) == {"walPVCSize", "walDirectory", "slotName"}
    assert "can only grow" in issues["walPVCSize"]
    assert "keep the old value" in issues["walDirectory"]
    assert "keep pinning WAL" in issues["slotName"]
    grow = view({"walPVCSize": "30Gi", "walDirectory": "/data/wal", "slotName": "a"})
    assert config.check_change(old, grow, IMAGE) == ()


def test_change_reports_new_invalid_values_first() -> None:
    issues = config.check_change(view({}), view({"walPVCSize": "x"}), IMAGE)
    assert [i.parameter for i in issues] == ["walPVCSize"]


@pytest.mark.parametrize("parameters", [None, {}, {"walPVCSize": "20Gi", "synchronous": "active"}])
def test_mutate_patch_applied_to_request_adds_the_defaults(
    parameters: dict[str, str] | None,
) -> None:
    doc = cluster_document(parameters=parameters)
    patch = mutation.defaults_patch(ClusterView.from_dict(doc), doc)
    patched = jsonpatch.apply_patch(doc, patch)
    got = patched["spec"]["plugins"][0]["parameters"]
    assert got["applicationName"] == "pg-wal-receiver"
    assert got["walDirectory"] == "/var/lib/postgresql/wal"
    for key, value in (parameters or {}).items():
        assert got[key] == value, "a user's value must never be overwritten"
    assert got["walPVCSize"] == (parameters or {}).get("walPVCSize", "10Gi")
    again = mutation.defaults_patch(ClusterView.from_dict(patched), patched)
    assert again == [], "defaulting twice changes nothing"
    assert json.loads(mutation.to_json_patch(patch)) == patch
    assert mutation.to_json_patch([]) == b""


def test_a_huge_bad_value_is_quoted_clipped() -> None:
    from cnpg_wal_replica.plugin.status import validation_error

    _, issues = config.collect(view({"applicationName": "x" * 1_000_000}), IMAGE)
    assert len(issues[0].describe()) < 400
    assert "x" * 119 + "…'" in issues[0].describe()
    assert len(validation_error(issues[0]).value) == 120
