"""The sidecar's settings: from ``WAL_READER_*`` environment variables or CLI options.

The plugin's lifecycle hook writes this environment into the sidecar it injects into a
reading Cluster's pods; start-up fails with a message that names the setting, the bad value
and an example of a good one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cnpg_wal_replica import envsettings
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.metadata import READER_ENV_PREFIX
from cnpg_wal_replica.reading import PLUGIN_SOCKET_DIRECTORY, READER_TLS_MOUNT, WAL_PORT

ENV_PREFIX = READER_ENV_PREFIX


class SidecarSettings(BaseSettings):
    """Everything `cnpg-wal-replica sidecar` needs to know."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    server: str = Field(
        min_length=3,
        description=f"host:port of the origin receiver's WAL server, e.g. "
        f"pg-wal-receiver.prod.svc:{WAL_PORT}",
    )
    server_name: str | None = Field(
        None, description="name the server certificate must carry [the host of server]"
    )
    tls_directory: Path = Field(
        Path(READER_TLS_MOUNT), description="directory with tls.crt, tls.key and ca.crt"
    )
    socket_directory: Path = Field(
        Path(PLUGIN_SOCKET_DIRECTORY), description="where the instance manager finds plugins"
    )
    spool_directory: Path = Field(description="where prefetched segments wait")
    prefetch: int = Field(4, ge=0, le=64, description="segments fetched ahead (0: none)")
    retry_seconds: float = Field(
        60.0, ge=0, le=3600, description="how long a transient failure is retried"
    )
    log_format: Literal["json", "console"] | None = Field(
        None, description="json or console (default: console on a terminal)"
    )

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not host:port, e.g. pg-wal-receiver.prod.svc:9443")
        return value

    @field_validator("server_name", "log_format", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def tls_server_name(self) -> str:
        """The name checked against the server certificate."""
        return self.server_name or self.server.rpartition(":")[0].strip("[]")


class SettingsError(WalReplicaError):
    """Settings are invalid; the message names each bad setting, its value and the fix."""


def env_name(field: str) -> str:
    """The environment variable of a settings field (``WAL_READER_SERVER``)."""
    return envsettings.env_name(ENV_PREFIX, field)


def load_settings(overrides: dict[str, object] | None = None) -> SidecarSettings:
    """Settings from the environment, with CLI ``overrides`` taking precedence."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return SidecarSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = envsettings.describe_errors(exc, given, ENV_PREFIX)
        raise SettingsError(f"invalid sidecar settings: {problems}") from None
