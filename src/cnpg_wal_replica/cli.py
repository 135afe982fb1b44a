"""The one entry point, `cnpg-wal-replica`, with a subcommand per role and tool.

Subcommands are imported only when invoked, so `serve` starts fast and `--help` is instant.
"""

from __future__ import annotations

import importlib

import click

from cnpg_wal_replica import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("cnpg_wal_replica.plugin.cli:serve", "Run the CNPG-I plugin server (mTLS gRPC)."),
    "receive": ("cnpg_wal_replica.receiver.cli:receive", "Run the WAL receiver of one cluster."),
    "sidecar": (
        "cnpg_wal_replica.sidecar.cli:sidecar",
        "Serve WAL/Restore to a reading Cluster's pods.",
    ),
    "render": (
        "cnpg_wal_replica.tools.render:render",
        "Print the objects the plugin would create.",
    ),
    "verify": ("cnpg_wal_replica.tools.verify:verify", "Check that a WAL directory is whole."),
    "drop-slot": (
        "cnpg_wal_replica.tools.drop_slot:drop_slot_command",
        "Drop the receiver's replication slot (run by the cleanup Job).",
    ),
    "demo": ("cnpg_wal_replica.demo.cli:demo", "Stream WAL from a throwaway local PostgreSQL."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target[0].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - wiring error
            raise TypeError(f"{target[0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="cnpg-wal-replica")
def main() -> None:
    """cnpg-wal-replica: keep an independent, streamed copy of a CNPG cluster's WAL."""
