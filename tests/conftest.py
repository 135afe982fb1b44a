"""Fixtures for every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from cnpg_wal_replica.transport import grpc_env

# Tests import grpc in-process (servers, clients, the sidecar): with the environment the
# product's own processes set before their first grpc import.
grpc_env.prepare()


@pytest.fixture(autouse=True)
def _structlog_defaults_after_each_test() -> Iterator[None]:
    """Code under test may configure structlog for a stream pytest captures and then closes
    (the receiver's and the demo's log set-up): later tests would log into a closed file."""
    yield
    structlog.reset_defaults()
