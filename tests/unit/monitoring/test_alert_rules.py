"""The PrometheusRule: promtool (built from the Prometheus module) checks it and runs its unit
tests (alerts_test.yaml); every alert fires and stays silent there, has a severity, names the
Cluster and namespace, and links a runbook section of docs/troubleshooting.md."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from support import harnesspaths
from support.documented import TROUBLESHOOTING, anchors, slug
from support.kube_fixtures import skip_or_fail
from support.monitoring import RULES_TEST, alerting_rules, kit_documents, rule_groups

from cnpg_wal_replica.metadata import REPOSITORY_URL
from cnpg_wal_replica.parameters import BY_NAME

RUNBOOKS = f"{REPOSITORY_URL}/blob/main/docs/troubleshooting.md#"
RUNBOOK_PARTS = ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**")


@pytest.fixture(scope="module")
def promtool() -> Path:
    try:
        return harnesspaths.promtool()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(str(missing))
        raise


@pytest.fixture
def rule_dir(tmp_path: Path) -> Path:
    """The rule groups as a rule file, beside a copy of the rules test."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    (tmp_path / "alerts_test.yaml").write_text(RULES_TEST.read_text())
    return tmp_path


def run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_rules(promtool: Path, rule_dir: Path) -> None:
    done = run(promtool, "check", "rules", "rules.yaml", cwd=rule_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerting_rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass(promtool: Path, rule_dir: Path) -> None:
    done = run(promtool, "test", "rules", "alerts_test.yaml", cwd=rule_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_threshold_changed_in_the_rules_fails_the_unit_tests(
    promtool: Path, rule_dir: Path
) -> None:
    """The unit tests depend on the rules' numbers: double the lag threshold."""
    rules = (rule_dir / "rules.yaml").read_text()
    assert "134217728" in rules
    (rule_dir / "rules.yaml").write_text(rules.replace("134217728", "268435456"))
    done = run(promtool, "test", "rules", "alerts_test.yaml", cwd=rule_dir)
    assert done.returncode != 0
    assert "CNPGWalReceiverFlushLagHigh" in done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    cases = [
        check
        for test in yaml.safe_load(RULES_TEST.read_text())["tests"]
        for check in test.get("alert_rule_test", [])
    ]
    for rule in alerting_rules():
        mine = [c for c in cases if c["alertname"] == rule["alert"]]
        assert any(c["exp_alerts"] for c in mine), f"{rule['alert']} never fires in a test"
        assert any(not c["exp_alerts"] for c in mine), f"{rule['alert']} never stays silent"


def test_every_alert_names_its_cluster_and_namespace_and_severity() -> None:
    for rule in alerting_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        for key in ("summary", "description"):
            text = rule["annotations"][key]
            assert "{{ $labels.namespace }}" in text, (name, key)
            if "PluginServer" not in name:  # the plugin serves every Cluster
                assert "{{ $labels.cluster }}" in text, (name, key)


def test_every_runbook_is_a_section_of_troubleshooting_md() -> None:
    page = TROUBLESHOOTING.read_text()
    for rule in alerting_rules():
        url = rule["annotations"]["runbook_url"]
        assert url == RUNBOOKS + slug(rule["alert"]), rule["alert"]
        assert slug(rule["alert"]) in anchors(TROUBLESHOOTING)
        section = page.split(f"\n### {rule['alert']}\n", 1)[1].split("\n#", 1)[0]
        for part in RUNBOOK_PARTS:
            assert part in section, (rule["alert"], part)
        assert "```sh" in section, f"{rule['alert']}: the runbook has no commands"


def test_alert_names_are_unique() -> None:
    names = [r["alert"] for r in alerting_rules()]
    assert len(names) == len(set(names))


def test_the_slot_alert_watches_the_slot_the_receiver_creates_by_default() -> None:
    (rule,) = [r for r in alerting_rules() if r["alert"] == "CNPGWalReceiverSlotRetainingWAL"]
    assert re.findall(r'slot_name="([^"]*)"', rule["expr"]) == [BY_NAME["slotName"].default]


def test_rules_find_targets_by_the_jobs_the_podmonitors_set() -> None:
    jobs = {
        relabel["replacement"]
        for doc in kit_documents()
        if doc["kind"] == "PodMonitor"
        for endpoint in doc["spec"]["podMetricsEndpoints"]
        for relabel in endpoint["relabelings"]
        if relabel["targetLabel"] == "job"
    }
    used = {job for r in alerting_rules() for job in re.findall(r'job="([^"]*)"', r["expr"])}
    assert used
    assert used <= jobs


def test_promtool_is_the_pinned_prometheus_release(promtool: Path, tmp_path: Path) -> None:
    """Module v0.3XY.Z is Prometheus 3.XY.Z; the recipe's ldflags stamp it."""
    module = harnesspaths.module_upstream_version("prometheus")
    assert module is not None
    assert module.startswith("v0.3")
    done = run(promtool, "--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"promtool, version 3.{module.removeprefix('v0.3')} ")
