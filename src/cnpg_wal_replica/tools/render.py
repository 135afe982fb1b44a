"""`render`: print the objects the plugin would create for a Cluster manifest, offline.

The same chain as Post (view → parse → desired objects), with YAML in place of the applier,
so what users preview is by construction what the plugin applies. Every problem with the
input is one line starting ``Error:`` and the exit status is 1 (click's own usage errors,
such as a missing file, keep click's status 2).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.entry import example_note
from cnpg_wal_replica.errors import ConfigError, ConfigIssue, WalReplicaError
from cnpg_wal_replica.jsonshape import check_shape, json_type
from cnpg_wal_replica.metadata import PLUGIN_NAME, RELEASE_IMAGE
from cnpg_wal_replica.parameters import image_reference
from cnpg_wal_replica.tools.render_yaml import load_cluster, written


def with_parameters(cluster: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """The Cluster with this plugin's parameters overridden (the entry is added if missing).

    A null ``metadata``, ``spec``, ``plugins`` or ``parameters`` means absent, as in the API;
    other wrong types raise ClusterDecodeError naming the field.
    """
    check_shape(cluster)
    spec = cluster["spec"] = cluster.get("spec") or {}
    plugins = spec["plugins"] = spec.get("plugins") or []
    entry = next((p for p in plugins if p.get("name") == PLUGIN_NAME), None)
    if entry is None:
        entry = {"name": PLUGIN_NAME}
        plugins.append(entry)
    entry["parameters"] = {**(entry.get("parameters") or {}), **overrides}
    metadata = cluster["metadata"] = cluster.get("metadata") or {}
    metadata.setdefault("namespace", "default")
    metadata.setdefault("uid", "00000000-0000-0000-0000-000000000000")
    return cluster


def render_objects(cluster: dict[str, Any], receiver_image: str | None) -> list[dict[str, Any]]:
    """The desired objects for ``cluster``; raises ConfigError like Post would."""
    view = ClusterView.from_dict(cluster)
    if not view.plugin_enabled:
        raise click.ClickException(f"the Cluster does not enable the plugin {PLUGIN_NAME}")
    return specs.desired_objects(view, config.parse(view, receiver_image))


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.ClickException(
                f"--parameters {pair!r} is not KEY=VALUE (example: -p walPVCSize=20Gi)"
            )
        overrides[key] = value
    return overrides


def _line(issue: ConfigIssue, view: ClusterView | None, node: yaml.Node | None) -> str:
    """One error line; a YAML value that is not a string is reported as written."""
    entry = view.plugin if view else None
    if entry and issue.path[3:4] == ("parameters",) and issue.parameter in entry.not_strings:
        value = entry.not_strings[issue.parameter]
        text = written(node, entry.index, issue.parameter)
        dumped = yaml.safe_dump(value, default_flow_style=True).removesuffix("...\n")
        read_as = "null" if value is None else f"the {json_type(value)} {' '.join(dumped.split())}"
        wrote = f"{text}, which YAML reads as {read_as}" if text else read_as
        return (
            f"Error: {issue.field}: you wrote {wrote}; parameter values must be quoted "
            f"strings{example_note(issue.parameter)}"
        )
    return f"Error: {issue.describe()}"


@click.command()
@click.argument("cluster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--parameters",
    "-p",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a plugin parameter (repeatable).",
)
@click.option(
    "--receiver-image",
    envvar="RECEIVER_IMAGE",
    default=RELEASE_IMAGE,
    show_default=True,
    help="The image the plugin server would default to.",
)
def render(cluster_file: Path, pairs: tuple[str, ...], receiver_image: str | None) -> None:
    """Print, as YAML, the objects the plugin would create for CLUSTER_FILE."""
    overrides = _parse_overrides(pairs)
    if receiver_image:
        try:
            receiver_image = image_reference(receiver_image)
        except ValueError as error:
            raise click.ClickException(
                f"--receiver-image {receiver_image!r} {error} "
                f"(example: --receiver-image {RELEASE_IMAGE})"
            ) from None
    document, node = load_cluster(cluster_file)
    view: ClusterView | None = None
    try:
        cluster = with_parameters(document, overrides)
        view = ClusterView.from_dict(cluster)
        objects = render_objects(cluster, receiver_image)
    except ConfigError as exc:
        for issue in exc.issues:
            click.echo(_line(issue, view, node), err=True)
        sys.exit(1)
    except WalReplicaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)
