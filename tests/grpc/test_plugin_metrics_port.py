"""The plugin server's plain-text /metrics port (`serve --metrics-address`, as deploy/ runs it)."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.grpcserver import Pki, serve_process
from support.plugin_doubles import open_recording_core

from cnpg_wal_replica.metadata import VERSION
from cnpg_wal_replica.plugin.server import ListenError, run
from cnpg_wal_replica.plugin.settings import ServerSettings
from cnpg_wal_replica.transport.tls import ReloadingCertificates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def test_serve_exports_its_version_and_process_metrics(pki: Pki, tmp_path: Path) -> None:
    port = free_port()
    tls = pki.write_tls_files(tmp_path)
    with serve_process(tls, "--metrics-address", f"127.0.0.1:{port}") as served:
        (serving,) = [e for e in served.log_lines if e["event"] == "server.serving"]
        assert serving["metrics_port"] == port
        text = scrape(port)
    assert f'cnpg_wal_replica_server_info{{version="{VERSION}"}} 1.0' in text
    assert "\nprocess_cpu_seconds_total " in text
    with pytest.raises(urllib.error.URLError):
        scrape(port)  # the port closes with the server


async def test_the_metrics_port_closes_when_the_server_stops(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path)
    port = free_port()
    settings = ServerSettings(tls=tls, address="127.0.0.1:0", metrics_address=f"127.0.0.1:{port}")
    stop = asyncio.Event()
    certificates = ReloadingCertificates(tls)
    server = asyncio.create_task(run(settings, certificates, open_recording_core, stop=stop))
    try:
        text = ""
        for _ in range(100):
            try:
                text = await asyncio.to_thread(scrape, port)
                break
            except urllib.error.URLError:
                await asyncio.sleep(0.05)
        assert "cnpg_wal_replica_server_janitor_last_sweep_timestamp_seconds" in text
    finally:
        stop.set()
        await asyncio.wait_for(server, timeout=10)
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(scrape, port)


async def test_metrics_on_a_busy_port_is_a_listen_error(pki: Pki, tmp_path: Path) -> None:
    tls = pki.write_tls_files(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        settings = ServerSettings(tls=tls, address="127.0.0.1:0", metrics_address=address)
        with pytest.raises(ListenError, match="for /metrics: address in use"):
            await run(settings, ReloadingCertificates(tls), open_recording_core)
