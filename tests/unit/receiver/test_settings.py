"""Receiver settings from the WAL_RECEIVER_* environment and CLI options."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnpg_wal_replica.archive.compression import Compression
from cnpg_wal_replica.receiver import cli
from cnpg_wal_replica.receiver.command import receivewal_argv
from cnpg_wal_replica.receiver.settings import ReceiverSettings, SettingsError, load_settings

REQUIRED = {
    "WAL_RECEIVER_HOST": "pg-rw",
    "WAL_RECEIVER_APPLICATION_NAME": "pg-wal-receiver",
    "WAL_RECEIVER_WAL_DIRECTORY": "/var/lib/wal",
    "WAL_RECEIVER_PG_RECEIVEWAL": "/usr/bin/pg_receivewal",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(__import__("os").environ):
        if name.startswith("WAL_RECEIVER_"):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_from_the_contract(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.host, settings.port, settings.user) == ("pg-rw", 5432, "streaming_replica")
    assert settings.sslmode == "verify-full"
    assert settings.slot_name == "wal_replica"
    assert settings.compression == Compression("none")
    assert settings.http_address == ("0.0.0.0", 8080)
    assert settings.retention_max_age is None
    assert settings.retention_max_size is None


def test_every_contract_variable_is_read(env: pytest.MonkeyPatch) -> None:
    values = {
        "PORT": "5433",
        "USER": "someone",
        "SSLMODE": "verify-ca",
        "SSLROOTCERT": "/tls/ca.crt",
        "SSLCERT": "/tls/tls.crt",
        "SSLKEY": "/tls/tls.key",
        "SLOT_NAME": "my_slot",
        "COMPRESSION": "gzip:5",
        "VERBOSE": "true",
        "RETENTION_MAX_AGE": "7d",
        "RETENTION_MAX_SIZE": "50Gi",
        "HTTP_ADDRESS": "127.0.0.1:9187",
        "LOG_FORMAT": "console",
    }
    for name, value in values.items():
        env.setenv("WAL_RECEIVER_" + name, value)
    s = load_settings()
    assert (s.port, s.user, s.sslmode, s.slot_name) == (5433, "someone", "verify-ca", "my_slot")
    assert (s.sslrootcert, s.sslcert, s.sslkey) == (
        Path("/tls/ca.crt"),
        Path("/tls/tls.crt"),
        Path("/tls/tls.key"),
    )
    assert s.verbose
    assert s.compression == Compression("gzip", 5)
    assert s.retention_max_age == 7 * 86400
    assert s.retention_max_size == 50 * 2**30
    assert s.http_address == ("127.0.0.1", 9187)
    assert s.log_format == "console"


def test_empty_retention_means_none(env: pytest.MonkeyPatch) -> None:
    env.setenv("WAL_RECEIVER_RETENTION_MAX_AGE", "")
    env.setenv("WAL_RECEIVER_RETENTION_MAX_SIZE", "")
    s = load_settings()
    assert s.retention_max_age is None
    assert s.retention_max_size is None


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("COMPRESSION", "zstd", "must be none, gzip, gzip:1-9, lz4 or lz4:1-12"),
        ("COMPRESSION", "gzip:42", "has a gzip level outside 1-9"),
        ("PORT", "70000", "WAL_RECEIVER_PORT"),
        ("SLOT_NAME", "Bad-Slot", "not a slot name"),
        ("RETENTION_MAX_AGE", "seven days", "not a duration"),
        ("RETENTION_MAX_SIZE", "-1Gi", "positive"),
        ("HTTP_ADDRESS", "8080", "host:port"),
        ("SSLMODE", "bogus", "WAL_RECEIVER_SSLMODE"),
    ],
)
def test_bad_values_name_the_setting(
    env: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    env.setenv("WAL_RECEIVER_" + name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert f"WAL_RECEIVER_{name}" in str(info.value)
    assert fragment in str(info.value)


def test_missing_required_setting_is_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("WAL_RECEIVER_HOST")
    with pytest.raises(SettingsError, match="WAL_RECEIVER_HOST / --host: Field required"):
        load_settings()


def test_cli_overrides_win_over_env(env: pytest.MonkeyPatch) -> None:
    s = load_settings({"host": "other", "port": "6000", "verbose": True, "user": None})
    assert (s.host, s.port, s.verbose, s.user) == ("other", 6000, True, "streaming_replica")


def test_cli_options_cover_every_setting() -> None:
    names = {n.replace("-", "_") for n, _ in (*cli.OPTIONS, *cli.FLAGS)}
    assert names == set(ReceiverSettings.model_fields)


def test_argv_is_exec_form_with_conninfo(env: pytest.MonkeyPatch) -> None:
    env.setenv("WAL_RECEIVER_SSLROOTCERT", "/tls/ca dir/ca.crt")
    env.setenv("WAL_RECEIVER_COMPRESSION", "lz4")
    argv = receivewal_argv(load_settings())
    assert argv[0] == "/usr/bin/pg_receivewal"
    assert "--slot=wal_replica" in argv
    assert "--directory=/var/lib/wal" in argv
    assert "--no-loop" in argv
    assert "--synchronous" in argv
    assert "--compress=lz4" in argv
    dbname = next(a for a in argv if a.startswith("--dbname="))
    assert "application_name=pg-wal-receiver" in dbname
    assert "sslmode=verify-full" in dbname
    assert "sslrootcert='/tls/ca dir/ca.crt'" in dbname
    assert "--verbose" not in argv


def test_status_connections_keep_a_distinct_application_name_within_63_bytes(
    env: pytest.MonkeyPatch,
) -> None:
    from cnpg_wal_replica.receiver.postgres import status_application_name

    assert status_application_name(load_settings()) == "pg-wal-receiver-status"
    env.setenv("WAL_RECEIVER_APPLICATION_NAME", "x" * 63)
    longest = status_application_name(load_settings())
    assert len(longest.encode()) <= 63
    assert longest.endswith("-status"), "never truncated by PostgreSQL into the receiver's name"


def test_the_wal_server_is_off_by_default_and_reads_its_settings(
    env: pytest.MonkeyPatch,
) -> None:
    s = load_settings()
    assert (s.serve_tls_directory, s.namespace, s.readers) == (None, None, ())
    assert s.serve_address == ("0.0.0.0", 9443)
    env.setenv("WAL_RECEIVER_SERVE_TLS_DIRECTORY", "/etc/wal-receiver/wal-server")
    env.setenv("WAL_RECEIVER_NAMESPACE", "prod")
    env.setenv("WAL_RECEIVER_READERS", "dr/pg, audit/*")
    env.setenv("WAL_RECEIVER_SERVE_ADDRESS", "127.0.0.1:9555")
    s = load_settings()
    assert s.serve_tls_directory == Path("/etc/wal-receiver/wal-server")
    assert s.namespace == "prod"
    assert [str(r) for r in s.readers] == ["dr/pg", "audit/*"]
    assert s.serve_address == ("127.0.0.1", 9555)


def test_the_wal_server_needs_the_namespace(env: pytest.MonkeyPatch) -> None:
    env.setenv("WAL_RECEIVER_SERVE_TLS_DIRECTORY", "/etc/wal-receiver/wal-server")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == (
        "invalid receiver settings: WAL_RECEIVER_NAMESPACE must be set when "
        "WAL_RECEIVER_SERVE_TLS_DIRECTORY is: the WAL server admits readers of its own "
        "namespace, e.g. prod"
    )


def test_a_bad_reader_names_the_setting_the_entry_and_an_example(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("WAL_RECEIVER_READERS", "dr/pg, DR")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "WAL_RECEIVER_READERS / --readers: 'DR' is not namespace/cluster" in str(info.value)
    assert "e.g. prod/pg-copy, staging/*" in str(info.value)
