"""Settings of the plugin server (`cnpg-wal-replica serve`), as one frozen value.

The CLI fills it from flags and environment; the server and the core read it. Kept free of
heavy imports so the server starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnpg_wal_replica.transport.files import TLSFiles

DEFAULT_ADDRESS = ":9090"
MIN_CONCURRENT_CALLS = 10
"""CNPG reconciles up to 10 Clusters at once (plus backups): never allow fewer calls."""


@dataclass(frozen=True)
class ServerSettings:
    """Everything `serve` needs to run."""

    tls: TLSFiles
    address: str = DEFAULT_ADDRESS
    health_address: str | None = None
    """Where to serve only `grpc.health.v1.Health` in plain text, for kubelet probes."""
    metrics_address: str | None = None
    """Where to serve Prometheus `/metrics` in plain text (HOST:PORT, ``:PORT``); off if None."""
    receiver_image: str | None = None
    enable_set_status: bool = False
    janitor_interval: float = 60.0
    grace_period: float = 25.0
    max_concurrent_calls: int = 64

    @property
    def bind_address(self) -> str:
        """The address in gRPC form; ``:9090`` (Go style) means every interface."""
        return bind_address(self.address)

    @property
    def health_bind_address(self) -> str | None:
        """`health_address` in gRPC form, or None when the health port is off."""
        return bind_address(self.health_address) if self.health_address else None

    @property
    def metrics_host_port(self) -> tuple[str, int] | None:
        """`metrics_address` split, ``""`` for every interface; None when it is off."""
        if not self.metrics_address:
            return None
        bind_address(self.metrics_address)  # validates
        host, _, port = self.metrics_address.rpartition(":")
        return host, int(port)


def bind_address(address: str) -> str:
    """Turn ``:PORT`` into ``[::]:PORT`` (all interfaces); leave ``HOST:PORT`` as it is.

    >>> bind_address(":9090")
    '[::]:9090'
    >>> bind_address("127.0.0.1:0")
    '127.0.0.1:0'
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(
            f"server address {address!r} is not HOST:PORT; use for example ':9090' "
            "(all interfaces) or '127.0.0.1:9090'"
        )
    if not host:
        return f"[::]:{port}"
    return address
