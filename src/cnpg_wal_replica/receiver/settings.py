"""The receiver's settings: from ``WAL_RECEIVER_*`` environment variables or CLI options.

The only contract between the plugin and the receiver is the environment that the plugin's
Deployment builder sets and this model reads. Start-up fails with a message that names the
setting, the bad value and an example of a good one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cnpg_wal_replica import envsettings
from cnpg_wal_replica.archive.compression import Compression, parse_compression
from cnpg_wal_replica.errors import WalReplicaError
from cnpg_wal_replica.metadata import (
    DEFAULT_SLOT_NAME,
    POSTGRES_PORT,
    RECEIVER_ENV_PREFIX,
    RECEIVER_HTTP_PORT,
    REPLICATION_USER,
)
from cnpg_wal_replica.naming import is_slot_name
from cnpg_wal_replica.pgbin import newest_program
from cnpg_wal_replica.reading import WAL_PORT, ReaderPattern, parse_readers
from cnpg_wal_replica.units import parse_bytes, parse_duration

__all__ = ["Compression", "ReceiverSettings", "SettingsError", "load_settings", "parse_compression"]

ENV_PREFIX = RECEIVER_ENV_PREFIX
MAX_RETENTION_AGE = 100 * 365 * 86400
"""Longest ``retention_max_age`` accepted (100 years): beyond it a value is a typo, and
past about 10**308 seconds it does not even fit the float arithmetic of the retention plan."""
MAX_RETENTION_SIZE = 2**63 - 1
"""Largest ``retention_max_size`` accepted (8Ei, what Kubernetes and the plugin accept)."""
MAX_TEXT = 64
"""No valid duration or size is longer (and Python refuses integers over 4300 digits)."""


def find_pg_receivewal() -> Path:
    """``pg_receivewal`` on PATH, else the newest ``/usr/lib/postgresql/<n>/bin`` one."""
    found = shutil.which("pg_receivewal")
    if found:
        return Path(found)
    newest = newest_program("pg_receivewal")
    if newest is None:
        raise ValueError(
            "pg_receivewal not found on PATH nor in /usr/lib/postgresql/*/bin "
            "(install postgresql-client or set WAL_RECEIVER_PG_RECEIVEWAL)"
        )
    return newest


class ReceiverSettings(BaseSettings):
    """Everything `cnpg-wal-replica receive` needs to know."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="PostgreSQL host (the cluster's -rw Service)")
    port: int = Field(POSTGRES_PORT, ge=1, le=65535, description="PostgreSQL port")
    database: str = Field(
        "postgres", min_length=1, description="database for status queries (not replication)"
    )
    user: str = Field(REPLICATION_USER, min_length=1, description="role to connect as")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        "verify-full", description="libpq sslmode"
    )
    sslrootcert: Path | None = Field(None, description="CA certificate file (PEM)")
    sslcert: Path | None = Field(None, description="client certificate file (PEM)")
    sslkey: Path | None = Field(None, description="client key file (PEM)")
    slot_name: str = Field(DEFAULT_SLOT_NAME, description="physical replication slot name")
    application_name: str = Field(
        min_length=1, max_length=63, description="application_name the primary sees"
    )
    wal_directory: Path = Field(description="directory the WAL is written to")
    compression: Annotated[Compression, NoDecode] = Field(
        Compression("none"), description="none, gzip, gzip:N, lz4 or lz4:N"
    )
    verbose: bool = Field(False, description="pass --verbose to pg_receivewal")
    retention_max_age: int | None = Field(None, description="keep WAL this long, e.g. 7d")
    retention_max_size: int | None = Field(None, description="keep at most this much, e.g. 50Gi")
    http_address: Annotated[tuple[str, int], NoDecode] = Field(
        ("0.0.0.0", RECEIVER_HTTP_PORT),  # noqa: S104 - a pod's port
        description="listen address of /metrics and probes",
    )
    log_format: Literal["json", "console"] | None = Field(
        None, description="json or console (default: console on a terminal)"
    )
    pg_receivewal: Path = Field(
        default_factory=find_pg_receivewal, description="path of the pg_receivewal binary"
    )
    namespace: str | None = Field(
        None, description="namespace of the Cluster whose WAL this is (its readers are allowed)"
    )
    serve_tls_directory: Path | None = Field(
        None,
        description="directory with tls.crt, tls.key and ca.crt of the WAL server; "
        "unset: no WAL server",
    )
    serve_address: Annotated[tuple[str, int], NoDecode] = Field(
        ("0.0.0.0", WAL_PORT),  # noqa: S104 - a pod's port
        description="listen address of the WAL server",
    )
    readers: Annotated[tuple[ReaderPattern, ...], NoDecode] = Field(
        (), description="other namespaces' Clusters allowed to read: ns/cluster or ns/*, comma"
    )

    @field_validator("slot_name")
    @classmethod
    def _slot(cls, value: str) -> str:
        if not is_slot_name(value):
            raise ValueError(f"{value!r} is not a slot name (lower-case letters, digits, _)")
        return value

    @field_validator("compression", mode="before")
    @classmethod
    def _compression(cls, value: Any) -> Any:
        return parse_compression(value) if isinstance(value, str) else value

    @field_validator("retention_max_age", mode="before")
    @classmethod
    def _age(cls, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise ValueError(
                    f"is longer than {MAX_TEXT} characters, so not a duration, e.g. 7d"
                )
            return parse_duration(value) if value.strip() else None
        return value

    @field_validator("retention_max_age")
    @classmethod
    def _age_bound(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_RETENTION_AGE:
            raise ValueError(
                f"must be from 1s to {MAX_RETENTION_AGE // 86400}d (100 years), e.g. 7d"
            )
        return value

    @field_validator("retention_max_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise ValueError(f"is longer than {MAX_TEXT} characters, so not a size, e.g. 50Gi")
            return parse_bytes(value) if value.strip() else None
        return value

    @field_validator("retention_max_size")
    @classmethod
    def _size_bound(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_RETENTION_SIZE:
            raise ValueError("must be from 1 byte to 8Ei, e.g. 50Gi")
        return value

    @field_validator("readers", mode="before")
    @classmethod
    def _readers(cls, value: Any) -> Any:
        return parse_readers(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _server_needs_namespace(self) -> ReceiverSettings:
        if self.serve_tls_directory is not None and not self.namespace:
            raise ValueError(
                f"{env_name('namespace')} must be set when {env_name('serve_tls_directory')} "
                "is: the WAL server admits readers of its own namespace, e.g. prod"
            )
        return self

    @field_validator("http_address", "serve_address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> Any:
        if isinstance(value, str):
            host, sep, port = value.rpartition(":")
            if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ValueError(f"{value!r} is not host:port (e.g. 0.0.0.0:8080)")
            return (host.strip("[]") or "0.0.0.0", int(port))  # noqa: S104
        return value

    @field_validator(
        "sslrootcert", "sslcert", "sslkey", "pg_receivewal", "serve_tls_directory", mode="before"
    )
    @classmethod
    def _empty_path(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("log_format", "namespace", mode="before")
    @classmethod
    def _empty_format(cls, value: Any) -> Any:
        return None if value == "" else value

    def libpq_params(self) -> dict[str, str]:
        """Connection parameters shared by pg_receivewal and the status connections."""
        params = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "sslmode": self.sslmode,
            "application_name": self.application_name,
        }
        for name in ("sslrootcert", "sslcert", "sslkey"):
            path = getattr(self, name)
            if path is not None:
                params[name] = str(path)
        return params


class SettingsError(WalReplicaError):
    """Settings are invalid; the message names each bad setting, its value and the fix."""


def env_name(field: str) -> str:
    """The environment variable of a settings field (``WAL_RECEIVER_SLOT_NAME``)."""
    return envsettings.env_name(ENV_PREFIX, field)


option_name = envsettings.option_name


def load_settings(overrides: dict[str, Any] | None = None) -> ReceiverSettings:
    """Settings from the environment, with CLI ``overrides`` taking precedence."""
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return ReceiverSettings(**given)
    except ValidationError as exc:
        problems = envsettings.describe_errors(exc, given, ENV_PREFIX)
        raise SettingsError(f"invalid receiver settings: {problems}") from None
