"""`render`: print the objects the plugin would create for a Cluster manifest, offline.

The same chain as Post (view → parse → desired objects), with YAML in place of the applier,
so what users preview is by construction what the plugin applies.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import yaml

from cnpg_wal_replica import config, specs
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigError, WalReplicaError
from cnpg_wal_replica.metadata import PLUGIN_NAME, RELEASE_IMAGE


def load_cluster(path: Path) -> dict[str, Any]:
    """The first `Cluster` document of a YAML file."""
    with path.open(encoding="utf-8") as handle:
        for document in yaml.safe_load_all(handle):
            if isinstance(document, dict) and document.get("kind") == "Cluster":
                return document
    raise click.ClickException(f"{path} contains no document of kind Cluster")


def with_parameters(cluster: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """The Cluster with this plugin's parameters overridden (the entry is added if missing)."""
    spec = cluster.setdefault("spec", {})
    plugins = spec.setdefault("plugins", [])
    entry = next((p for p in plugins if p.get("name") == PLUGIN_NAME), None)
    if entry is None:
        entry = {"name": PLUGIN_NAME}
        plugins.append(entry)
    entry.setdefault("parameters", {}).update(overrides)
    cluster.setdefault("metadata", {}).setdefault("namespace", "default")
    cluster["metadata"].setdefault("uid", "00000000-0000-0000-0000-000000000000")
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
            raise click.BadParameter(
                f"{pair!r} is not key=value (example: walPVCSize=20Gi)", param_hint="--parameters"
            )
        overrides[key] = value
    return overrides


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
    cluster = with_parameters(load_cluster(cluster_file), _parse_overrides(pairs))
    try:
        objects = render_objects(cluster, receiver_image)
    except ConfigError as exc:
        for issue in exc.issues:
            click.echo(f"error: {'.'.join(issue.path)}: {issue.describe()}", err=True)
        sys.exit(2)
    except WalReplicaError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)
