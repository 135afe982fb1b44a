"""`cnpg-wal-replica demo` runs end to end by itself and cleans up after itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.parametrize("extra", [[], ["--synchronous", "--compression", "gzip"]])
def test_demo_finishes_verifies_and_cleans_up(extra: list[str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cnpg_wal_replica.demo.cli import demo; demo()",
            "--duration",
            "4",
            "--rows-per-second",
            "5000",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.search(r"metrics: +http://127\.0\.0\.1:\d+/metrics", out)
    assert re.search(r"segments +\d+", out)
    assert "result: OK, the archive is whole" in out
    root = re.search(r"in (/\S+) \.\.\.", out)
    assert root is not None
    assert not Path(root.group(1)).exists()
    assert f"removed {root.group(1)}" in out
