"""Every name the plugin generates fits Kubernetes and PostgreSQL for every Cluster CNPG admits."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.clusters import cluster_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import CNPG_MAX_NAME, ClusterView
from cnpg_wal_replica.naming import fit, is_slot_name
from cnpg_wal_replica.parameters import wal_directory
from cnpg_wal_replica.specs import names
from cnpg_wal_replica.specs.job import build_drop_slot_job

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
LONGEST = "a" + "b" * (CNPG_MAX_NAME - 2) + "c"

cluster_names = st.from_regex(r"[a-z]([-a-z0-9]{0,48}[a-z0-9])?", fullmatch=True)


def fits(value: str, pattern: re.Pattern[str] = DNS1123_LABEL) -> bool:
    return len(value) <= 63 and pattern.fullmatch(value) is not None


def built(name: str) -> list[dict[str, Any]]:
    view = ClusterView.from_dict(cluster_document(name=name))
    objects = specs.desired_objects(view, config.parse(view, "ghcr.io/x/receiver:1"))
    return [*objects, build_drop_slot_job(name, objects[1])]


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    template = obj["spec"].get("template")
    return [template] if template else []


def test_names_that_fit_are_unchanged() -> None:
    assert names.receiver_name("pg") == "pg-wal-receiver"
    assert names.drop_slot_job_name("pg") == "pg-wal-receiver-drop-slot"
    forty = "c" * 40
    assert names.drop_slot_job_name(forty) == f"{forty}-wal-receiver-drop-slot"
    assert len(names.drop_slot_job_name(forty)) == 63
    assert names.receiver_name(LONGEST) == f"{LONGEST}-wal-receiver"
    assert names.drop_slot_application_name("pg-wal-receiver") == "pg-wal-receiver-drop-slot"


def test_a_long_job_name_is_cut_with_a_hash_of_the_whole_name() -> None:
    job = names.drop_slot_job_name(LONGEST)
    assert len(job) == 63
    assert job.startswith(LONGEST[:31] + "-")
    assert job.endswith("-wal-receiver-drop-slot")
    assert re.fullmatch(r"[0-9a-f]{8}", job[32:40])
    assert names.drop_slot_job_name(LONGEST) == job, "deterministic"
    other = LONGEST[:-1] + "d"  # same 31-character prefix
    assert names.drop_slot_job_name(other) != job


def test_a_cut_never_leaves_a_dash_before_the_hash() -> None:
    name = "a" * 30 + "-" + "b" * 19  # the cut falls right after the dash
    job = names.drop_slot_job_name(name)
    assert "--" not in job
    assert fits(job)


def test_fit_keeps_the_suffix_and_the_limit() -> None:
    assert fit("abc", "-x", limit=5) == "abc-x"
    cut = fit("abcdefghijklmnop", "-x", limit=14)
    assert len(cut) == 14
    assert cut.startswith("abc-")
    assert cut.endswith("-x")
    assert fit("---------------", "-x", limit=12).endswith("-x"), "no base left: hash and suffix"
    assert not fit("---------------", "-x", limit=12).startswith("-")


def test_drop_slot_application_name_fits_postgres() -> None:
    longest = "x" * 63
    fitted = names.drop_slot_application_name(longest)
    assert len(fitted.encode()) <= 63
    assert fitted.endswith("-drop-slot")
    assert fitted != names.drop_slot_application_name("x" * 62 + "y")


@settings(max_examples=300, deadline=None)
@given(cluster_names)
@example(LONGEST)
@example("a" * CNPG_MAX_NAME)
@example("a")
def test_every_generated_name_and_label_fits(name: str) -> None:
    for obj in built(name):
        meta = obj["metadata"]
        assert fits(meta["name"]), meta["name"]
        for template in [obj, *pod_templates(obj)]:
            for value in template["metadata"].get("labels", {}).values():
                assert fits(value, LABEL_VALUE), value
        for template in pod_templates(obj):
            spec = template["spec"]
            for container in spec["containers"]:
                assert fits(container["name"])
            for volume in spec["volumes"]:
                assert fits(volume["name"])
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                assert claim is None or claim == names.receiver_name(name)
    job = built(name)[2]
    assert len(job["metadata"]["name"]) <= 63, "the Job controller's job-name label"
    assert config.default_application_name(name) == names.receiver_name(name)
    env = {
        e["name"]: e["value"]
        for e in built(name)[1]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert len(names.drop_slot_application_name(env["WAL_RECEIVER_APPLICATION_NAME"])) <= 63


def test_a_name_cnpg_refuses_is_a_named_error() -> None:
    for bad in ("a" * (CNPG_MAX_NAME + 1), "1pg", "pg_1", "Pg"):
        view = ClusterView.from_dict(cluster_document(name=bad))
        configuration, issues = config.collect(view, "ghcr.io/x/receiver:1")
        assert configuration is None
        [issue] = [i for i in issues if i.path == ("metadata", "name")]
        assert issue.field == "metadata.name"
        assert issue.value == bad
        assert "example: name: mycluster" in issue.message
    view = ClusterView.from_dict(cluster_document(namespace="Bad_NS"))
    [issue] = config.collect(view, "ghcr.io/x/receiver:1")[1]
    assert (issue.field, issue.value) == ("metadata.namespace", "Bad_NS")


def test_every_mount_of_the_pod_is_refused_as_wal_directory() -> None:
    for mount in (names.CA_MOUNT, names.TLS_MOUNT, names.TMP_MOUNT):
        try:
            wal_directory(mount)
        except ValueError:
            continue
        raise AssertionError(f"walDirectory {mount} would collide with the pod's own mount")


def test_one_slot_name_rule_for_the_parameter_and_the_receiver() -> None:
    assert is_slot_name("wal_replica")
    assert is_slot_name("s" * 63)
    for bad in ("", "s" * 64, "Has-Dash", "UPPER", "wal_replica\n", "a.b"):
        assert not is_slot_name(bad), bad
