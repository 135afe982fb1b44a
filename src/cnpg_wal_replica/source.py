"""Which origin a Cluster reads WAL from: its `externalClusters` entry, validated (pure).

A Cluster reads WAL through this plugin when `spec.replica.source` or
`spec.bootstrap.recovery.source` names an `externalClusters` entry whose `plugin` is this
plugin. The entry's parameters say whose receiver serves the WAL; the plugin then injects
the restore sidecar into the Cluster's pods and asks cert-manager for its client
certificate. Problems are reported like the origin's parameters: the field users edit, the
bad value and an example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from cnpg_wal_replica.cluster import CNPG_MAX_NAME, ClusterView, SourceEntry, is_cluster_name
from cnpg_wal_replica.entry import example_note, not_string_message
from cnpg_wal_replica.errors import ConfigError, ConfigIssue
from cnpg_wal_replica.naming import is_dns1123_label
from cnpg_wal_replica.parameters import ParameterSpec


def cluster_name(raw: str) -> str:
    """The name of the origin Cluster, as CNPG admits it (`cluster.is_cluster_name`)."""
    value = raw.strip()
    if not is_cluster_name(value):
        raise ValueError(
            f"is not a Cluster name (lower-case letters, digits and '-', starting with a "
            f"letter, at most {CNPG_MAX_NAME} characters)"
        )
    return value


def namespace_name(raw: str) -> str:
    """A namespace name (a DNS-1123 label)."""
    value = raw.strip()
    if not is_dns1123_label(value):
        raise ValueError("is not a namespace name (a lower-case DNS-1123 label)")
    return value


SOURCE_PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec(
        "cluster",
        cluster_name,
        "required",
        "the origin Cluster: its receiver `<cluster>-wal-receiver` serves the WAL",
        "pg",
    ),
    ParameterSpec(
        "namespace",
        namespace_name,
        "the reading Cluster's namespace",
        "the origin Cluster's namespace; unless it is the reading Cluster's own, the origin "
        "must list the reader in its `readers` parameter",
        "prod",
    ),
)
"""Parameters of `spec.externalClusters[].plugin` (docs/parameters.md lists them)."""
SOURCE_BY_NAME = {spec.name: spec for spec in SOURCE_PARAMETERS}


@dataclass(frozen=True)
class WalSource:
    """The origin whose receiver a reading Cluster restores WAL from."""

    entry: str
    """The `externalClusters` entry's name."""
    cluster: str
    namespace: str


class Use(Enum):
    """Who restores WAL: the instances of a replica cluster, or a recovery Job."""

    REPLICA = "replica"
    """`spec.replica.source`: every instance pod replays WAL while the Cluster is a
    replica; the sidecar stays after a promotion, so promoting restarts nothing."""
    RECOVERY = "recovery"
    """`spec.bootstrap.recovery.source`: the full- or snapshot-recovery Job replays WAL."""


def source_entry(view: ClusterView, use: Use) -> SourceEntry | None:
    """Our `externalClusters` entry that ``use``'s source names, if any."""
    name = view.replica_source if use is Use.REPLICA else view.recovery_source
    return next((e for e in view.sources if name and e.name == name), None)


def _example(name: str) -> str | None:
    spec = SOURCE_BY_NAME.get(name)
    return spec.example if spec else None


def _path(entry: SourceEntry, parameter: str) -> tuple[str, ...]:
    return ("spec", "externalClusters", str(entry.index), "plugin", "parameters", parameter)


def collect(view: ClusterView, use: Use) -> tuple[WalSource | None, tuple[ConfigIssue, ...]]:
    """The source ``use`` reads from (None when not through us), or every problem."""
    entry = source_entry(view, use)
    if entry is None:
        return None, ()
    issues = [
        ConfigIssue(
            _path(entry, name),
            json.dumps(value, default=str)[:200],
            not_string_message(name, value, _example(name)),
        )
        for name, value in sorted(entry.not_strings.items())
    ]
    known = ", ".join(spec.name for spec in SOURCE_PARAMETERS)
    issues += [
        ConfigIssue(
            _path(entry, name),
            entry.parameters[name],
            f"is not a parameter of a WAL source; known parameters: {known}",
        )
        for name in sorted(set(entry.parameters) - set(SOURCE_BY_NAME))
    ]
    values: dict[str, str] = {}
    for spec in SOURCE_PARAMETERS:
        text = entry.parameters.get(spec.name)
        if text is None:
            continue
        try:
            values[spec.name] = spec.parse(text)
        except ValueError as exc:
            note = example_note(spec.name, spec.example)
            issues.append(ConfigIssue(_path(entry, spec.name), text, f"{exc}{note}"))
    if "cluster" not in entry.parameters and "cluster" not in entry.not_strings:
        issues.append(
            ConfigIssue(
                _path(entry, "cluster"),
                "",
                "is required: the name of the Cluster whose receiver serves the WAL"
                + example_note("cluster", "pg"),
            )
        )
    if issues:
        return None, tuple(issues)
    return (
        WalSource(entry.name, values["cluster"], values.get("namespace", view.namespace)),
        (),
    )


def wal_source(view: ClusterView, use: Use) -> WalSource | None:
    """The source ``use`` reads from, None when not through us; ConfigError when invalid."""
    source, issues = collect(view, use)
    if issues:
        raise ConfigError(issues)
    return source
