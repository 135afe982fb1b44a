"""The plugin server's lifecycle: build the grpc.aio server, serve, drain on SIGTERM.

PluginServer.build(settings, core, certificates)  register services + health, bind mTLS
                                                   (and the plain-text health port)
await server.start()                               Identity SERVING, the rest once
await server.core_ready()                          the core is attached
await server.shutdown(grace)                       NOT_SERVING, then drain in-flight calls
await run(settings, open_core)                     all of it, until SIGTERM/SIGINT (and the
                                                   plain-text /metrics port, plugin/metrics.py)

The health port (`--health-address`) serves nothing but `grpc.health.v1.Health`, without
TLS, from the same health servicer as the mTLS port: kubelet `grpc` probes cannot present a
client certificate, and the statuses they read are the server's own (the overall status is
SERVING only once every CNPG-I service is). It answers no CNPG-I call and reveals nothing
but those statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from cnpg_wal_replica import metadata
from cnpg_wal_replica._pb import (
    identity_pb2,
    operator_lifecycle_pb2,
    operator_pb2,
    reconciler_pb2,
)
from cnpg_wal_replica._pb.identity_pb2_grpc import add_IdentityServicer_to_server
from cnpg_wal_replica._pb.operator_lifecycle_pb2_grpc import (
    add_OperatorLifecycleServicer_to_server,
)
from cnpg_wal_replica._pb.operator_pb2_grpc import add_OperatorServicer_to_server
from cnpg_wal_replica._pb.reconciler_pb2_grpc import (
    add_ReconcilerHooksServicer_to_server,
)
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.plugin.calltiming import CallTimer
from cnpg_wal_replica.plugin.core import PluginCore
from cnpg_wal_replica.plugin.deferred import DeferredCore
from cnpg_wal_replica.plugin.lifecycle import OperatorLifecycleServicer
from cnpg_wal_replica.plugin.metrics import SERVER_METRICS, serve_metrics
from cnpg_wal_replica.plugin.operator import OperatorServicer
from cnpg_wal_replica.plugin.reconciler import ReconcilerHooksServicer
from cnpg_wal_replica.plugin.settings import ServerSettings
from cnpg_wal_replica.stopsignals import stop_on_signals
from cnpg_wal_replica.transport.identity import IdentityServicer, Service
from cnpg_wal_replica.transport.tls import ReloadingCertificates, server_credentials

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

log = structlog.get_logger(__name__)

ADVERTISED_SERVICES = (
    Service.TYPE_OPERATOR_SERVICE,
    Service.TYPE_RECONCILER_HOOKS,
    Service.TYPE_LIFECYCLE_SERVICE,
)
"""Exactly the services this server implements; the operator calls GetCapabilities on each.

Not TYPE_INSTANCE_SIDECAR_INJECTION: CNPG's instance manager then loads the plugin from
`/plugins` in every pod of a Cluster that lists it in `spec.plugins` (the origins, which
get no sidecar), and its instance reconcile fails while the socket is missing (CNPG
`GetInstanceEnabledPluginNames`). `restore_command` needs no marker: it loads every
plugin of `spec.plugins` and `spec.externalClusters` whose socket is present."""

CoreFactory = Callable[[ServerSettings], AbstractAsyncContextManager[PluginCore]]
"""Opens the plugin's logic for the server's lifetime (and its background loops)."""

SERVICE_NAMES: tuple[str, ...] = (
    identity_pb2.DESCRIPTOR.services_by_name["Identity"].full_name,
    operator_pb2.DESCRIPTOR.services_by_name["Operator"].full_name,
    reconciler_pb2.DESCRIPTOR.services_by_name["ReconcilerHooks"].full_name,
    operator_lifecycle_pb2.DESCRIPTOR.services_by_name["OperatorLifecycle"].full_name,
)
OVERALL = ""
"""The health service's name for the server as a whole."""
HEALTH_MAX_CALLS = 8
"""Concurrent calls on the health port: probes come one at a time from the kubelet."""

SERVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    # Two servers on one port would split the operator's connections silently.
    ("grpc.so_reuseport", 0),
    # Cap connection age so pooled operator connections re-handshake (and pick up rotated
    # certificates) and spread over replicas; the grace lets in-flight calls finish.
    ("grpc.max_connection_age_ms", 30 * 60 * 1000),
    ("grpc.max_connection_age_grace_ms", 60 * 1000),
    # Pre/Post carry the Cluster twice; a Cluster may be up to etcd's 1.5 MiB.
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)


def freeze_startup_objects() -> None:
    """Exclude everything loaded at start-up from garbage collection.

    The modules, models and clients imported by now live as long as the process; without
    this, each full collection walks them all and stalls every in-flight call (the
    benchmark's p99).
    """
    gc.collect()
    gc.freeze()


@dataclass
class PluginServer:
    """A bound, not yet started server and its health servicer."""

    server: grpc.aio.Server
    health: Any  # grpc_health.v1._async.HealthServicer (untyped package)
    port: int
    health_server: grpc.aio.Server | None = None
    health_port: int | None = None

    @classmethod
    def build(
        cls, settings: ServerSettings, core: PluginCore, certificates: ReloadingCertificates
    ) -> PluginServer:
        server = grpc.aio.server(
            interceptors=(CallTimer(SERVER_METRICS.observe_call),),
            maximum_concurrent_rpcs=settings.max_concurrent_calls,
            options=SERVER_OPTIONS,
        )
        add_IdentityServicer_to_server(IdentityServicer(ADVERTISED_SERVICES), server)
        add_OperatorServicer_to_server(
            OperatorServicer(core, enable_set_status=settings.enable_set_status), server
        )
        add_ReconcilerHooksServicer_to_server(ReconcilerHooksServicer(core), server)
        add_OperatorLifecycleServicer_to_server(OperatorLifecycleServicer(core), server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        credentials = server_credentials(certificates)
        port = _listen(
            lambda: server.add_secure_port(settings.bind_address, credentials),
            f"cannot listen on {settings.address!r}: address in use or invalid; choose a "
            "free port with --server-address/SERVER_ADDRESS (the Service and the "
            "cnpg.io/pluginPort annotation must use the same one)",
        )
        plugin = cls(server, health_servicer, port)
        health_address = settings.health_bind_address
        if health_address is not None:
            plugin.health_server = grpc.aio.server(
                maximum_concurrent_rpcs=HEALTH_MAX_CALLS, options=(("grpc.so_reuseport", 0),)
            )
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, plugin.health_server)
            insecure = plugin.health_server.add_insecure_port
            plugin.health_port = _listen(
                lambda: insecure(health_address),
                f"cannot listen on {settings.health_address!r} for the health port: address "
                "in use or invalid; choose a free port with --health-address/HEALTH_ADDRESS "
                "(the Deployment's probes must use the same one)",
            )
        return plugin

    async def start(self) -> None:
        """Serve; only Identity reports SERVING until ``core_ready``."""
        await self.server.start()
        if self.health_server is not None:
            await self.health_server.start()
        await self.health.set(SERVICE_NAMES[0], health_pb2.HealthCheckResponse.SERVING)
        for name in (*SERVICE_NAMES[1:], OVERALL):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    async def core_ready(self) -> None:
        for name in (*SERVICE_NAMES, OVERALL):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def shutdown(self, grace: float) -> None:
        """Report NOT_SERVING everywhere, refuse new calls, let in-flight ones finish."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.health_server is not None:  # probes see NOT_SERVING while calls drain
            await self.health_server.stop(0)


def _listen(add_port: Callable[[], int], refusal: str) -> int:
    """Bind one port; ListenError with ``refusal`` when it cannot."""
    try:  # grpcio raises RuntimeError when it cannot bind (older releases returned 0)
        port = add_port()
    except RuntimeError:
        port = 0
    if port == 0:
        raise ListenError(refusal)
    return port


class ListenError(WalReplicaError):
    """The server address cannot be bound; the message names it and the flag."""


class CoreOpenError(WalReplicaError):
    """The plugin's logic (its Kubernetes client) could not be opened; the server stops."""


def _serve_metrics(settings: ServerSettings) -> WSGIServer | None:
    """The plain-text /metrics port, when `--metrics-address` is set."""
    where = settings.metrics_host_port
    if where is None:
        return None
    try:
        return serve_metrics(*where, SERVER_METRICS)
    except OSError:
        raise ListenError(
            f"cannot listen on {settings.metrics_address!r} for /metrics: address in use or "
            "invalid; choose a free port with --metrics-address/METRICS_ADDRESS (the "
            "Deployment's metrics port must use the same one)"
        ) from None


async def _open(
    stack: contextlib.AsyncExitStack, open_core: CoreFactory, settings: ServerSettings
) -> PluginCore:
    try:
        opening = await asyncio.to_thread(open_core, settings)
        return await stack.enter_async_context(opening)
    except Exception as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise CoreOpenError(
            f"cannot start the plugin's Kubernetes client: {reason} (check the "
            "ServiceAccount token, or the kubeconfig that KUBECONFIG names)"
        ) from error


async def run(
    settings: ServerSettings,
    certificates: ReloadingCertificates,
    open_core: CoreFactory,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or ``stop`` is set), then drain within the grace period.

    The server listens first and opens the core afterwards (its imports run in a thread),
    so Probe answers as early as possible; calls that need the core wait for it.
    """
    stop = stop or asyncio.Event()
    core = DeferredCore()
    plugin = PluginServer.build(settings, core, certificates)
    metrics_server = _serve_metrics(settings)
    remove_handlers = stop_on_signals(stop, log, "server.signal")
    drained = False
    try:
        await plugin.start()
        log.info(
            "server.serving",
            plugin=metadata.PLUGIN_NAME,
            version=metadata.VERSION,
            address=settings.bind_address,
            port=plugin.port,
            health_port=plugin.health_port,
            metrics_port=metrics_server.server_port if metrics_server else None,
            set_status_enabled=settings.enable_set_status,
            certificates=certificates.bundle.fingerprint,
        )
        async with contextlib.AsyncExitStack() as stack:
            real_core = await _open(stack, open_core, settings)
            core.attach(real_core)
            await plugin.core_ready()
            freeze_startup_objects()
            log.info("server.core_ready")
            try:
                await stop.wait()
            finally:
                # Drain while the core is still open: in-flight calls finish normally.
                log.info("server.draining", grace_seconds=settings.grace_period)
                await plugin.shutdown(settings.grace_period)
                drained = True
                log.info("server.stopped")
    finally:
        if not drained:
            await plugin.shutdown(0)
        if metrics_server is not None:
            await asyncio.to_thread(metrics_server.shutdown)
            metrics_server.server_close()
        remove_handlers()
