"""The start-up messages users see are quoted in docs/troubleshooting.md as the code says them.

Each message is produced by the code itself (not copied here), then looked up among the
troubleshooting headings (support/documented.py): a changed text fails until the page says it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import stat
from pathlib import Path

import click
import pytest
from support.documented import pattern, undocumented

from cnpg_wal_replica.plugin import cli as serve_cli
from cnpg_wal_replica.plugin.settings import bind_address
from cnpg_wal_replica.receiver.app import StartupError, check_pg_receivewal, listen
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.settings import SettingsError, load_settings
from cnpg_wal_replica.receiver.state import ReceiverState
from cnpg_wal_replica.transport.tls import TLSFiles, TLSFilesError, read_bundle

ROOT = Path(__file__).resolve().parents[2]
CERT = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"


def tls_files(tmp_path: Path, **contents: bytes | None) -> TLSFiles:
    paths = {}
    for name, default in (("server_cert", CERT), ("server_key", KEY), ("client_cert", CERT)):
        tmp_path.mkdir(parents=True, exist_ok=True)
        path = tmp_path / f"{name}.pem"
        data = contents.get(name, default)
        if data is not None:
            path.write_bytes(data)
        paths[name] = path
    return TLSFiles(**paths)


def tls_error(files: TLSFiles) -> str:
    with pytest.raises(TLSFilesError) as caught:
        read_bundle(files)
    return str(caught.value)


def test_tls_file_messages_are_documented(tmp_path: Path) -> None:
    messages = [
        tls_error(tls_files(tmp_path / "a", server_cert=None)),
        tls_error(tls_files(tmp_path / "b", client_cert=None)),
        tls_error(tls_files(tmp_path / "c", server_cert=b"not pem")),
        tls_error(tls_files(tmp_path / "d", server_key=CERT)),
        tls_error(tls_files(tmp_path / "e", client_cert=KEY)),
    ]
    unreadable = tls_files(tmp_path / "f")
    unreadable.server_cert.unlink()
    unreadable.server_cert.mkdir()
    messages.append(tls_error(unreadable))
    for flag in serve_cli.TLS_FLAGS:
        options = dict.fromkeys(serve_cli.TLS_FLAGS, "/x.pem") | {flag: None}
        with pytest.raises(click.UsageError) as caught:
            serve_cli._tls_files(options)
        messages.append(caught.value.message)
    with pytest.raises(ValueError, match="is not HOST:PORT") as bad_address:
        bind_address("9090")
    messages.append(str(bad_address.value))
    assert not undocumented(messages)


def test_the_old_missing_certificate_text_would_not_pass() -> None:
    """The check fails for a page that paraphrases: the text it replaced is refused."""
    old = pattern("--server-cert: file '…' does not exist; mount the plugin's TLS secret there")
    real = "--server-cert / SERVER_CERT: file '/server/tls.crt' does not exist; mount the plugin"
    assert not old.search(real)


@pytest.fixture
def receiver_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in {
        "HOST": "pg-rw",
        "APPLICATION_NAME": "pg-wal-receiver",
        "WAL_DIRECTORY": str(tmp_path / "wal"),
        "PG_RECEIVEWAL": str(tmp_path / "pg_receivewal"),
    }.items():
        monkeypatch.setenv("WAL_RECEIVER_" + name, value)
    return tmp_path / "pg_receivewal"


def startup_error(receiver_env: Path) -> str:
    with pytest.raises(StartupError) as caught:
        check_pg_receivewal(load_settings())
    return f"Error: {caught.value}"  # as `receive` prints it


def test_receiver_start_up_messages_are_documented(receiver_env: Path) -> None:
    messages = [startup_error(receiver_env)]
    receiver_env.write_text("#!/bin/sh\n")
    receiver_env.chmod(stat.S_IRUSR)
    messages.append(startup_error(receiver_env))
    receiver_env.chmod(stat.S_IRWXU)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = load_settings({"http_address": f"127.0.0.1:{busy.getsockname()[1]}"})
        with pytest.raises(StartupError) as caught:
            asyncio.run(listen(settings, ReceiverState(0.0, 0.0), ReceiverMetrics()))
    messages.append(f"Error: {caught.value}")
    for setting, value in (("retention_max_age", "99999d"), ("retention_max_size", "9Ei")):
        with pytest.raises(SettingsError) as bad:
            load_settings({setting: value})
        messages.append(str(bad.value))
    assert not undocumented(messages), undocumented(messages)


SOURCE = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
LOG_NAMES = re.compile(r"\b[Ll]og(?: line)?\s+((?:`[a-z][a-z0-9_.]+`(?:\s*/\s*)?)+)")


def test_every_log_event_the_troubleshooting_page_names_is_logged() -> None:
    """`Log slot_acquired` and the like name events the code emits, spelt as in the code."""
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    named = {n for names in LOG_NAMES.findall(page) for n in re.findall(r"`([^`]+)`", names)}
    assert len(named) >= 10, named
    missing = sorted(n for n in named if f'"{n}"' not in SOURCE)
    assert not missing, f"docs/troubleshooting.md names log events the code never logs: {missing}"
