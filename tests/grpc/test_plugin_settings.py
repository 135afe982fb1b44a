"""`serve` flags and environment → ServerSettings (no server started)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.grpcserver import Pki

from cnpg_wal_replica.plugin.cli import make_serve_command
from cnpg_wal_replica.plugin.settings import ServerSettings, bind_address


@pytest.mark.parametrize(
    ("given", "bound"),
    [(":9090", "[::]:9090"), ("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:9090", "[::1]:9090")],
)
def test_bind_address(given: str, bound: str) -> None:
    assert bind_address(given) == bound


@pytest.mark.parametrize("bad", ["9090", "localhost", "host:port", ""])
def test_bad_address_says_what_to_use(bad: str) -> None:
    with pytest.raises(ValueError, match="':9090'"):
        bind_address(bad)


TLS_ARGS = ["--server-cert", "a", "--server-key", "b", "--client-cert", "c"]


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ServerSettings]:
    """Invoke `serve` through click and capture the settings instead of serving."""
    from cnpg_wal_replica import logs
    from cnpg_wal_replica.plugin import cli

    captured: list[ServerSettings] = []
    monkeypatch.setattr(cli, "_run", lambda settings, *_, **__: captured.append(settings))
    monkeypatch.setattr(logs, "configure", lambda *_, **__: None)

    def invoke(args: list[str], env: dict[str, str]) -> ServerSettings:
        captured.clear()
        result = CliRunner().invoke(make_serve_command(), args, env=env)
        assert result.exit_code == 0, result.output
        return captured[0]

    return invoke


def test_every_flag_can_come_from_the_environment(
    settings_from: Callable[..., ServerSettings],
) -> None:
    settings = settings_from(
        [],
        {
            "SERVER_CERT": "/tls/tls.crt",
            "SERVER_KEY": "/tls/tls.key",
            "CLIENT_CERT": "/client/tls.crt",
            "SERVER_ADDRESS": ":9443",
            "RECEIVER_IMAGE": "example.com/receiver:1",
            "ENABLE_SET_STATUS": "true",
            "JANITOR_INTERVAL": "30",
            "LOG_FORMAT": "json",
            "GRACE_PERIOD": "5",
        },
    )
    assert str(settings.tls.server_cert) == "/tls/tls.crt"
    assert str(settings.tls.server_key) == "/tls/tls.key"
    assert str(settings.tls.client_cert) == "/client/tls.crt"
    assert settings.bind_address == "[::]:9443"
    assert settings.receiver_image == "example.com/receiver:1"
    assert settings.enable_set_status is True
    assert settings.janitor_interval == 30
    assert settings.grace_period == 5


def test_defaults(settings_from: Callable[..., ServerSettings]) -> None:
    settings = settings_from(TLS_ARGS, {})
    assert settings.address == ":9090"
    assert settings.enable_set_status is False
    assert settings.janitor_interval == 60
    assert settings.grace_period == 25
    assert settings.receiver_image is None
    assert settings.max_concurrent_calls >= 10


def test_receiver_image_defaults_to_the_plugin_image(
    settings_from: Callable[..., ServerSettings],
) -> None:
    settings = settings_from(TLS_ARGS, {"PLUGIN_IMAGE": "example.com/cnpg-wal-replica:0.1.0"})
    assert settings.receiver_image == "example.com/cnpg-wal-replica:0.1.0"
    explicit = settings_from([*TLS_ARGS, "--receiver-image", "other:2"], {"PLUGIN_IMAGE": "x:1"})
    assert explicit.receiver_image == "other:2"


@pytest.mark.parametrize(
    ("flag", "env"),
    [
        ("--server-cert", "SERVER_CERT"),
        ("--server-key", "SERVER_KEY"),
        ("--client-cert", "CLIENT_CERT"),
    ],
)
def test_a_missing_tls_flag_is_named(flag: str, env: str) -> None:
    args = TLS_ARGS.copy()
    del args[args.index(flag) : args.index(flag) + 2]
    result = CliRunner().invoke(make_serve_command(), args, env={})
    assert result.exit_code == 2
    assert f"{flag} (or env {env}) is required" in result.output


def test_serve_without_kubernetes_credentials_says_so_before_binding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pki: Pki
) -> None:
    from cnpg_wal_replica import logs
    from cnpg_wal_replica.plugin import kubecreds, server

    monkeypatch.setattr(logs, "configure", lambda *_, **__: None)
    monkeypatch.setattr(kubecreds, "SERVICE_ACCOUNT", tmp_path / "no-sa")
    monkeypatch.setattr(kubecreds.missing_credentials, "__defaults__", (tmp_path / "no-sa",))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    bound: list[object] = []
    monkeypatch.setattr(server, "run", lambda *a, **k: bound.append(a))
    env = {"KUBECONFIG": str(tmp_path / "missing.yaml"), "HOME": str(tmp_path)}
    tls = pki.write_tls_files(tmp_path)
    args = ["--server-cert", str(tls.server_cert), "--server-key", str(tls.server_key)]
    args += ["--client-cert", str(tls.client_cert)]
    result = CliRunner().invoke(make_serve_command(), args, env=env)
    assert result.exit_code == 1
    assert bound == []
    assert "no Kubernetes API credentials" in result.output
    assert f"KUBECONFIG={tmp_path / 'missing.yaml'} does not exist" in result.output
    assert "Traceback" not in result.output


def test_a_receiver_image_that_is_no_image_is_refused_at_start() -> None:
    result = CliRunner().invoke(
        make_serve_command(), [*TLS_ARGS, "--receiver-image", "Bad Image!"], env={}
    )
    assert result.exit_code == 2
    assert "'Bad Image!' is not a container image reference" in result.output


def test_an_unusable_kubeconfig_is_one_plain_error(pki: Pki, tmp_path: Path) -> None:
    """The real core cannot open its client: one log line and `Error:`, no traceback."""
    tls = pki.write_tls_files(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [\n")
    argv = [sys.executable, "-m", "cnpg_wal_replica", "serve", "--log-format", "json"]
    argv += ["--server-address", "127.0.0.1:0", "--server-cert", str(tls.server_cert)]
    argv += ["--server-key", str(tls.server_key), "--client-cert", str(tls.client_cert)]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(argv, capture_output=True, timeout=60, check=False, env=env)
    stderr = done.stderr.decode()
    assert done.returncode == 1
    assert "Traceback" not in stderr
    assert "Error: cannot start the plugin's Kubernetes client: " in stderr
    assert "KUBECONFIG" in stderr
