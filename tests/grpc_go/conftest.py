"""The real Go CNPG-I client against the real plugin server, which applies to a real API server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import harnesspaths, pluginserver
from support.kube_fixtures import *  # noqa: F403
from support.kube_fixtures import skip_or_fail


@pytest.fixture(scope="session")
def go_client_binary() -> Path:
    try:
        return harnesspaths.cnpgi_client()
    except harnesspaths.HarnessMissing as missing:
        skip_or_fail(f"CNPG-I Go client not built: {missing}")
        raise


@pytest.fixture(scope="session")
def plugin_tls(tmp_path_factory: pytest.TempPathFactory) -> pluginserver.PluginTLS:
    return pluginserver.PluginTLS.create(tmp_path_factory.mktemp("plugin-tls"))


@pytest.fixture(scope="session")
def plugin_server(
    go_client_binary: Path,
    plugin_tls: pluginserver.PluginTLS,
    plugin_kubeconfig: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[pluginserver.ServerProcess]:
    """`cnpg-wal-replica serve` with SetStatusInCluster on, as the plugin's ServiceAccount."""
    log = tmp_path_factory.mktemp("plugin-server") / "serve.log"
    with pluginserver.start_server(
        plugin_tls,
        plugin_kubeconfig,
        log,
        [
            f"--receiver-image={pluginserver.RECEIVER_IMAGE}",
            "--enable-set-status",
            "--janitor-interval=3600",
        ],
    ) as server:
        yield server
