"""The real plugin server as a subprocess, and the real Go CNPG-I client that talks to it.

`PluginTLS` lays out the two Secrets cert-manager makes in `deploy/certificates.yaml`
(self-signed, CA:FALSE, ECDSA P-256): the server secret whose `tls.crt` the operator trusts
and the client secret the operator presents. `start_server` runs `cnpg-wal-replica serve`
on 127.0.0.1 with those files and a kubeconfig; `run_go_client` runs
`tests/harness/cnpgi-client` and returns its JSON summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import harnesspaths, kubepki

SERVICE_NAME = "cnpg-wal-replica"
"""The plugin Service's name: the TLS server name the operator verifies (protocol §3.3)."""
RECEIVER_IMAGE = "ghcr.io/documentdb/cnpg-wal-replica:0.1.0"
"""`--receiver-image` of the test servers (never pulled: no kubelet runs)."""


@dataclass(frozen=True)
class PluginTLS:
    server: kubepki.KeyPair
    """The server secret: `tls.crt` (also the operator's trust roots) and `tls.key`."""
    client: kubepki.KeyPair
    """The client secret: the operator's pair; the plugin trusts its `tls.crt`."""

    @classmethod
    def create(cls, directory: Path) -> PluginTLS:
        server = kubepki.self_signed(
            directory / "server", "tls", SERVICE_NAME, dns_names=(SERVICE_NAME,), server=True
        )
        client = kubepki.self_signed(
            directory / "client", "tls", "cnpg-wal-replica-client", client=True
        )
        return cls(server=server, client=client)


@dataclass
class ServerProcess:
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def start_server(
    tls: PluginTLS,
    kubeconfig: str,
    log: Path,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 20,
) -> Iterator[ServerProcess]:
    """Run `cnpg-wal-replica serve` until the block ends; waits until it accepts TCP."""
    port = _free_port()
    executable = Path(sys.executable).parent / "cnpg-wal-replica"
    argv = [
        str(executable),
        "serve",
        f"--server-cert={tls.server.cert}",
        f"--server-key={tls.server.key}",
        f"--client-cert={tls.client.cert}",
        f"--server-address=127.0.0.1:{port}",
        "--log-format=json",
        *extra_args,
    ]
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    server = ServerProcess(f"127.0.0.1:{port}", process, log)
    try:
        _wait_for_port(server, port, ready_timeout)
        yield server
    finally:
        server.stop()


def _wait_for_port(server: ServerProcess, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"plugin server exited with {server.process.returncode}:\n{server.log_text()}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"plugin server not listening after {timeout}s:\n{server.log_text()}")


@dataclass(frozen=True)
class GoClientResult:
    returncode: int
    summary: dict[str, Any]
    stderr: str


def run_go_client(
    address: str,
    tls: PluginTLS,
    cluster_file: Path | None,
    *args: str,
    server_name: str = SERVICE_NAME,
    timeout: float = 120,
) -> GoClientResult:
    """Run the Go CNPG-I client (the operator's side) and decode its JSON summary."""
    argv = [
        str(harnesspaths.cnpgi_client()),
        f"--address={address}",
        f"--server-name={server_name}",
        f"--server-cert={tls.server.cert}",
        f"--client-cert={tls.client.cert}",
        f"--client-key={tls.client.key}",
        *([f"--cluster={cluster_file}"] if cluster_file else []),
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    summary = json.loads(done.stdout) if done.stdout.strip() else {}
    return GoClientResult(done.returncode, summary, done.stderr.decode(errors="replace"))
