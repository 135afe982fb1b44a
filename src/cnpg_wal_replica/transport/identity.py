"""CNPG-I Identity: who the plugin is, which services it offers, and a cheap liveness probe.

Both CNPG-I servers answer it: the plugin server (to the operator) and the sidecar (to the
instance manager in PostgreSQL pods). They are one plugin with one name and metadata;
each advertises the services it implements.
"""

from __future__ import annotations

from typing import Any

import grpc

from cnpg_wal_replica import metadata
from cnpg_wal_replica._pb import identity_pb2, identity_pb2_grpc

Service = identity_pb2.PluginCapability.Service


def plugin_metadata() -> identity_pb2.GetPluginMetadataResponse:
    return identity_pb2.GetPluginMetadataResponse(
        name=metadata.PLUGIN_NAME,
        version=metadata.VERSION,
        display_name=metadata.DISPLAY_NAME,
        description=metadata.DESCRIPTION,
        project_url=metadata.PROJECT_URL,
        repository_url=metadata.REPOSITORY_URL,
        license=metadata.LICENSE,
        license_url=metadata.LICENSE_URL,
        maturity=metadata.MATURITY,
        vendor=metadata.VENDOR,
    )


class IdentityServicer(identity_pb2_grpc.IdentityServicer):
    """Static answers, built once.

    *services* must be exactly those the server implements: the caller asks
    GetCapabilities of each.
    """

    def __init__(self, services: tuple[Service.Type.ValueType, ...]) -> None:
        self._metadata = plugin_metadata()
        self._capabilities = identity_pb2.GetPluginCapabilitiesResponse(
            capabilities=[
                identity_pb2.PluginCapability(service=Service(type=kind)) for kind in services
            ]
        )
        self._ready = identity_pb2.ProbeResponse(ready=True)

    async def GetPluginMetadata(  # noqa: N802
        self,
        request: identity_pb2.GetPluginMetadataRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> identity_pb2.GetPluginMetadataResponse:
        return self._metadata

    async def GetPluginCapabilities(  # noqa: N802
        self,
        request: identity_pb2.GetPluginCapabilitiesRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> identity_pb2.GetPluginCapabilitiesResponse:
        return self._capabilities

    async def Probe(  # noqa: N802
        self, request: identity_pb2.ProbeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> identity_pb2.ProbeResponse:
        """Called by the operator each time it takes a pooled connection: no I/O here."""
        return self._ready
