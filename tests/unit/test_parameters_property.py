"""Property tests over arbitrary parameter maps: a configuration or named errors, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from support.clusters import cluster_document

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.parameters import BY_NAME

names = st.one_of(st.sampled_from(sorted(BY_NAME)), st.text(min_size=1, max_size=12))
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "active",
            "10Gi",
            "/data/wal",
            "gzip:5",
            "true",
            "0",
            "-1",
            "$(reboot)",
            "; rm -rf /",
            "`id`",
            "a\nb",
            "wal_replica",
            "1e3",
            "500m",
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(names, values, max_size=8))
def test_any_parameters_give_a_configuration_or_named_errors(params: dict[str, str]) -> None:
    view = ClusterView.from_dict(cluster_document(parameters=params))
    configuration, issues = config.collect(view, "ghcr.io/x/y:1")
    if configuration is None:
        assert issues
        for issue in issues:
            assert issue.path[:3] == ("spec", "plugins", "0")
            assert issue.parameter in params or issue.parameter in BY_NAME
            assert issue.message
    else:
        assert not issues
        objects = specs.desired_objects(view, configuration)
        container = objects[1]["spec"]["template"]["spec"]["containers"][0]
        # Exec form only: no shell ever sees a parameter value.
        assert container["command"] == ["cnpg-wal-replica"]
        assert container["args"] == ["receive"]
        assert all("sh" not in part for part in container["command"])
