"""Which origin a Cluster reads WAL from: the externalClusters entry and its parameters."""

from __future__ import annotations

import pytest
from support.clusters import cluster_document, reader_document

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigError
from cnpg_wal_replica.source import Use, WalSource, collect, wal_source


def view(**kwargs: object) -> ClusterView:
    return ClusterView.from_dict(reader_document(**kwargs))  # type: ignore[arg-type]


def test_a_replica_cluster_reads_from_the_named_origin() -> None:
    assert wal_source(view(), Use.REPLICA) == WalSource("origin", "pg", "prod")
    assert wal_source(view(), Use.RECOVERY) is None


def test_a_recovering_cluster_reads_from_its_recovery_source() -> None:
    assert wal_source(view(use="recovery"), Use.RECOVERY) == WalSource("origin", "pg", "prod")
    assert wal_source(view(use="recovery"), Use.REPLICA) is None


def test_the_namespace_defaults_to_the_readers_own() -> None:
    assert wal_source(view(source={"cluster": "pg"}), Use.REPLICA) == WalSource(
        "origin", "pg", "dr"
    )


def test_an_origin_cluster_reads_from_nobody() -> None:
    assert wal_source(ClusterView.from_dict(cluster_document()), Use.REPLICA) is None


def test_an_entry_no_source_names_is_ignored() -> None:
    document = reader_document()
    document["spec"]["replica"]["source"] = "other"
    assert collect(ClusterView.from_dict(document), Use.REPLICA) == (None, ())


def test_a_disabled_entry_is_no_source() -> None:
    document = reader_document()
    document["spec"]["externalClusters"][1]["plugin"]["enabled"] = False
    assert wal_source(ClusterView.from_dict(document), Use.REPLICA) is None


@pytest.mark.parametrize(
    ("source", "parameter", "value", "words"),
    [
        ({}, "cluster", "", "is required"),
        ({"namespace": "prod"}, "cluster", "", "is required"),
        ({"cluster": "PG"}, "cluster", "PG", "is not a Cluster name"),
        ({"cluster": "a" * 51}, "cluster", "a" * 51, "at most 50"),
        ({"cluster": "pg", "namespace": "Prod_1"}, "namespace", "Prod_1", "not a namespace"),
        ({"cluster": "pg", "clusterName": "pg"}, "clusterName", "pg", "known parameters"),
    ],
)
def test_bad_parameters_name_the_field_the_value_and_an_example(
    source: dict[str, str], parameter: str, value: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        wal_source(view(source=source), Use.REPLICA)
    (issue,) = caught.value.issues
    assert issue.field == f"spec.externalClusters[1].plugin.parameters.{parameter}"
    assert issue.value == value
    assert words in issue.message


def test_every_problem_is_reported_at_once() -> None:
    _, issues = collect(view(source={"namespace": "-", "port": "1"}), Use.REPLICA)
    assert {i.parameter for i in issues} == {"cluster", "namespace", "port"}


def test_a_non_string_value_is_refused_with_a_quoted_example() -> None:
    document = reader_document()
    document["spec"]["externalClusters"][1]["plugin"]["parameters"] = {"cluster": 7}
    with pytest.raises(ConfigError) as caught:
        wal_source(ClusterView.from_dict(document), Use.REPLICA)
    (issue,) = caught.value.issues
    assert issue.value == "7"
    assert "not a string" in issue.message
    assert 'cluster: "pg"' in issue.message
