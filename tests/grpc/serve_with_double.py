"""`cnpg-wal-replica serve` with the test-double core, for the subprocess tests.

It runs the very click command the CLI registers (built by the same factory), only the core
differs: the real one needs a Kubernetes API server (see plugin_doubles.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find support/

from support.plugin_doubles import open_recording_core

from cnpg_wal_replica.plugin.cli import make_serve_command

if __name__ == "__main__":
    make_serve_command(open_recording_core).main(sys.argv[1:], prog_name="cnpg-wal-replica serve")
