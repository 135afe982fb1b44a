"""`cnpg-wal-replica serve`: flags and environment to ``ServerSettings``, then run the server.

Heavy modules (grpc, the reconcile logic, lightkube) are imported inside the command so
``--help`` is instant and the server starts serving well within two seconds.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cnpg_wal_replica.plugin.settings import DEFAULT_ADDRESS, ServerSettings
from cnpg_wal_replica.transport.files import TLSFiles

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from cnpg_wal_replica.plugin.core import PluginCore
    from cnpg_wal_replica.plugin.server import CoreFactory

PLUGIN_IMAGE_ENV = "PLUGIN_IMAGE"


def open_reconcile_core(settings: ServerSettings) -> AbstractAsyncContextManager[PluginCore]:
    """The real core: validates, builds and applies receiver objects; runs the janitor."""
    from cnpg_wal_replica.plugin.metrics import SERVER_METRICS
    from cnpg_wal_replica.plugin.wiring import open_core  # lightkube: imported only here

    return open_core(
        receiver_image=settings.receiver_image,
        janitor_interval=settings.janitor_interval,
        on_sweep=SERVER_METRICS.observe_sweep,
    )


TLS_FLAGS = {
    "server_cert": ("--server-cert", "SERVER_CERT", "the server's PEM certificate (tls.crt)"),
    "server_key": ("--server-key", "SERVER_KEY", "the server's PEM private key (tls.key)"),
    "client_cert": (
        "--client-cert",
        "CLIENT_CERT",
        "the PEM certificate client certificates must chain to (the operator's client tls.crt)",
    ),
}


def _tls_files(options: dict[str, Any]) -> TLSFiles:
    for name, (flag, env, what) in TLS_FLAGS.items():
        if not options[name]:
            raise click.UsageError(f"{flag} (or env {env}) is required: the path of {what}")
    return TLSFiles(
        server_cert=Path(options["server_cert"]),
        server_key=Path(options["server_key"]),
        client_cert=Path(options["client_cert"]),
    )


def make_serve_command(open_core: CoreFactory | None = None) -> click.Command:
    """Build the `serve` command; tests pass a test-double core factory."""

    @click.command("serve")
    @click.option(
        "--server-cert",
        envvar="SERVER_CERT",
        metavar="PATH",
        help="PEM certificate the server presents. [env: SERVER_CERT]",
    )
    @click.option(
        "--server-key",
        envvar="SERVER_KEY",
        metavar="PATH",
        help="PEM private key of the server certificate. [env: SERVER_KEY]",
    )
    @click.option(
        "--client-cert",
        envvar="CLIENT_CERT",
        metavar="PATH",
        help="PEM certificate(s) client certificates must chain to "
        "(the operator's client certificate). [env: CLIENT_CERT]",
    )
    @click.option(
        "--server-address",
        envvar="SERVER_ADDRESS",
        default=DEFAULT_ADDRESS,
        show_default=True,
        help="HOST:PORT to listen on; ':PORT' means all interfaces. [env: SERVER_ADDRESS]",
    )
    @click.option(
        "--health-address",
        envvar="HEALTH_ADDRESS",
        default=None,
        help="HOST:PORT where only the gRPC health service is served, in plain text, for "
        "Kubernetes grpc probes; ':PORT' means all interfaces. Off by default. "
        "[env: HEALTH_ADDRESS]",
    )
    @click.option(
        "--metrics-address",
        envvar="METRICS_ADDRESS",
        default=None,
        help="HOST:PORT where Prometheus /metrics is served in plain text; ':PORT' means "
        "all interfaces. Off by default. [env: METRICS_ADDRESS]",
    )
    @click.option(
        "--receiver-image",
        envvar="RECEIVER_IMAGE",
        default=None,
        help="Default receiver image; defaults to $PLUGIN_IMAGE, the plugin's own "
        "image. [env: RECEIVER_IMAGE]",
    )
    @click.option(
        "--enable-set-status/--no-enable-set-status",
        envvar="ENABLE_SET_STATUS",
        default=False,
        show_default=True,
        help="Advertise SetStatusInCluster. Off by default: CNPG bug #11385 makes "
        "the status flap and requeues the Cluster every 5 s. "
        "[env: ENABLE_SET_STATUS]",
    )
    @click.option(
        "--janitor-interval",
        envvar="JANITOR_INTERVAL",
        default=60.0,
        type=click.FloatRange(min=1.0),
        show_default=True,
        help="Seconds between scans for Clusters that dropped the plugin. [env: JANITOR_INTERVAL]",
    )
    @click.option(
        "--log-format",
        envvar="LOG_FORMAT",
        default=None,
        type=click.Choice(["json", "console"]),
        help="Log as JSON lines or readable text; default json unless stderr is a "
        "terminal. [env: LOG_FORMAT]",
    )
    @click.option(
        "--grace-period",
        envvar="GRACE_PERIOD",
        default=25.0,
        type=click.FloatRange(min=0.0),
        show_default=True,
        help="Seconds in-flight calls get to finish after SIGTERM. [env: GRACE_PERIOD]",
    )
    def serve(**options: Any) -> None:
        """Run the CNPG-I plugin server (gRPC over mutual TLS)."""
        settings = _settings(options)
        from cnpg_wal_replica.transport import grpc_env

        tls13_only = grpc_env.prepare()  # before anything imports grpc
        from cnpg_wal_replica import logs

        logs.configure(options["log_format"])
        _run(settings, open_core or open_reconcile_core, tls13_only=tls13_only)

    return serve


def _settings(options: dict[str, Any]) -> ServerSettings:
    from cnpg_wal_replica.plugin.settings import bind_address

    for name, hint in (
        ("server_address", "--server-address"),
        ("health_address", "--health-address"),
        ("metrics_address", "--metrics-address"),
    ):
        if options[name] is None:
            continue
        try:
            bind_address(options[name])
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint=hint) from None
    receiver_image = options["receiver_image"] or os.environ.get(PLUGIN_IMAGE_ENV) or None
    if receiver_image is not None:
        from cnpg_wal_replica.parameters import image_reference

        try:
            receiver_image = image_reference(receiver_image)
        except ValueError as error:
            raise click.BadParameter(
                f"{receiver_image!r} {error} (example: ghcr.io/documentdb/cnpg-wal-replica:0.1.0)",
                param_hint="--receiver-image (or env RECEIVER_IMAGE, PLUGIN_IMAGE)",
            ) from None
    return ServerSettings(
        tls=_tls_files(options),
        address=options["server_address"],
        health_address=options["health_address"] or None,
        metrics_address=options["metrics_address"] or None,
        receiver_image=receiver_image,
        enable_set_status=options["enable_set_status"],
        janitor_interval=options["janitor_interval"],
        grace_period=options["grace_period"],
    )


def _run(settings: ServerSettings, open_core: CoreFactory, *, tls13_only: bool) -> None:
    import structlog

    from cnpg_wal_replica.transport.tls import ReloadingCertificates, TLSFilesError

    log = structlog.get_logger("cnpg_wal_replica.plugin.cli")
    try:
        certificates = ReloadingCertificates(settings.tls)
    except TLSFilesError as error:
        log.error("server.tls_files_unusable", error=str(error))
        raise click.ClickException(str(error)) from None
    if open_core is open_reconcile_core:  # the real core needs the API: say so before binding
        from cnpg_wal_replica.plugin.kubecreds import missing_credentials

        missing = missing_credentials()
        if missing is not None:
            log.error("server.no_kubernetes_credentials", error=missing)
            raise click.ClickException(missing)
    if not tls13_only:
        log.warning(
            "server.tls12_allowed",
            reason="GRPC_SSL_CIPHER_SUITES was set by the user or grpc was imported first",
        )

    from cnpg_wal_replica.plugin.server import CoreOpenError, ListenError, run

    try:
        asyncio.run(run(settings, certificates, open_core))
    except ListenError as error:
        log.error("server.cannot_listen", error=str(error))
        raise click.ClickException(str(error)) from None
    except CoreOpenError as error:
        log.error("server.core_unusable", error=str(error))
        raise click.ClickException(str(error)) from None
    except Exception:
        # e.g. no in-cluster or kubeconfig credentials for the core: one JSON line, exit 1.
        log.exception("server.failed")
        raise SystemExit(1) from None


serve = make_serve_command()
