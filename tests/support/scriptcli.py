"""The command line of the harness scripts (`python tests/support/<script>.py <command>`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from support.harnesspaths import HarnessMissing


def run_commands(commands: Mapping[str, Callable[[], int]], usage: str) -> None:
    """Run the zero-argument command named by argv[1] and exit with its status."""
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(f"usage: {usage}", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(commands[sys.argv[1]]())
    except HarnessMissing as missing:
        print(missing, file=sys.stderr)
        sys.exit(1)
