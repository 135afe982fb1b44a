"""Sidecar settings from the WAL_READER_* environment and CLI options."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnpg_wal_replica.sidecar import cli
from cnpg_wal_replica.sidecar.settings import SettingsError, SidecarSettings, load_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("WAL_READER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WAL_READER_SERVER", "pg-wal-receiver.prod.svc:9443")
    monkeypatch.setenv("WAL_READER_SPOOL_DIRECTORY", "/controller/wal-reader-spool")
    return monkeypatch


def test_defaults_follow_the_reading_contract(env: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.tls_server_name == "pg-wal-receiver.prod.svc"
    assert s.tls_directory == Path("/etc/wal-reader/tls")
    assert s.socket_directory == Path("/plugins")
    assert (s.prefetch, s.retry_seconds) == (4, 60.0)


def test_the_server_name_can_differ_from_the_address(env: pytest.MonkeyPatch) -> None:
    env.setenv("WAL_READER_SERVER", "10.0.0.7:9443")
    env.setenv("WAL_READER_SERVER_NAME", "pg-wal-receiver.prod.svc")
    assert load_settings().tls_server_name == "pg-wal-receiver.prod.svc"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("SERVER", "pg-wal-receiver.prod.svc", "is not host:port, e.g. pg-wal-receiver"),
        ("SERVER", "host:99999", "is not host:port"),
        ("PREFETCH", "65", "less than or equal to 64"),
        ("RETRY_SECONDS", "-1", "greater than or equal to 0"),
        ("LOG_FORMAT", "xml", "'json' or 'console'"),
    ],
)
def test_bad_values_name_the_setting(
    env: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    env.setenv("WAL_READER_" + name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    option = "--" + name.lower().replace("_", "-")
    assert f"WAL_READER_{name} / {option}: " in str(caught.value)
    assert fragment in str(caught.value)
    assert repr(value) in str(caught.value)


def test_a_missing_server_is_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("WAL_READER_SERVER")
    with pytest.raises(SettingsError, match="WAL_READER_SERVER / --server: Field required"):
        load_settings()


def test_cli_options_cover_every_setting() -> None:
    assert {n.replace("-", "_") for n, _ in cli.OPTIONS} == set(SidecarSettings.model_fields)
