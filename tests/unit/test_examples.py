"""The example Clusters in examples/ are accepted by the plugin and say what the docs say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnpg_wal_replica import checks, config, metadata
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.parameters import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("cluster-*.yaml"))
RECEIVER_IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "examples" / name).read_text())
    assert isinstance(document, dict)
    return document


def view_of(document: dict[str, Any]) -> ClusterView:
    placed = {**document, "metadata": {**document["metadata"], "namespace": "default"}}
    return ClusterView.from_dict(placed)


def plugin_entry(document: dict[str, Any]) -> dict[str, Any]:
    (entry,) = [p for p in document["spec"]["plugins"] if p["name"] == metadata.PLUGIN_NAME]
    return dict(entry)


def test_the_three_documented_examples_exist() -> None:
    assert [p.name for p in EXAMPLES] == [
        "cluster-full.yaml",
        "cluster-minimal.yaml",
        "cluster-synchronous.yaml",
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_a_cluster_the_plugin_accepts(path: Path) -> None:
    document = load(path.name)
    assert document["apiVersion"] == "postgresql.cnpg.io/v1"
    assert document["kind"] == "Cluster"
    parameters = plugin_entry(document).get("parameters", {})
    assert all(isinstance(v, str) for v in parameters.values()), "CNPG parameters are strings"
    configuration = config.parse(view_of(document), RECEIVER_IMAGE)
    assert checks.synchronous_advice(view_of(document), configuration) is None


def test_minimal_example_sets_no_parameter() -> None:
    assert "parameters" not in plugin_entry(load("cluster-minimal.yaml"))


def test_full_example_sets_every_parameter() -> None:
    parameters = plugin_entry(load("cluster-full.yaml"))["parameters"]
    assert set(parameters) == {spec.name for spec in PARAMETERS}


def test_synchronous_example_lists_the_receiver_first() -> None:
    document = load("cluster-synchronous.yaml")
    configuration = config.parse(view_of(document), RECEIVER_IMAGE)
    assert configuration.synchronous is True
    assert document["spec"]["postgresql"]["synchronous"] == {
        "method": "first",
        "number": 1,
        "dataDurability": "required",
        "standbyNamesPre": [configuration.application_name],
    }


def test_synchronous_example_would_be_flagged_without_its_block() -> None:
    document = load("cluster-synchronous.yaml")
    del document["spec"]["postgresql"]
    configuration = config.parse(view_of(document), RECEIVER_IMAGE)
    advice = checks.synchronous_advice(view_of(document), configuration)
    assert advice is not None
    assert "standbyNamesPre" in advice


def yaml_blocks(markdown: str) -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)]


def test_usage_page_shows_the_examples_verbatim() -> None:
    blocks = yaml_blocks((ROOT / "docs" / "usage.md").read_text())
    for path in EXAMPLES:
        assert load(path.name) in blocks, f"docs/usage.md does not show {path.name} as it is"
