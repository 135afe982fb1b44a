"""Pure: the receiver's settings turned into the ``pg_receivewal`` argv (exec form, no shell)."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo

from cnpg_wal_replica.receiver.settings import ReceiverSettings

STATUS_INTERVAL_SECONDS = 1
"""``--status-interval``: how often pg_receivewal reports its position to the server."""


def conninfo(settings: ReceiverSettings, **extra: str) -> str:
    """A libpq connection string for ``settings`` (values quoted by psycopg)."""
    return make_conninfo("", **{**settings.libpq_params(), **extra})


def receivewal_argv(settings: ReceiverSettings) -> list[str]:
    """The command line of one ``pg_receivewal`` run.

    ``--no-loop``: the supervisor owns retries. ``--synchronous`` is always passed
    (`metadata.RECEIVER_FLUSH`): without it pg_receivewal reports its flush position only
    when a segment completes, which stalls synchronous commits and makes the reported lag
    meaningless (see the README's numbers).
    ``--no-password``: certificates only; never prompt.
    """
    argv = [
        str(settings.pg_receivewal),
        f"--directory={settings.wal_directory}",
        f"--slot={settings.slot_name}",
        f"--dbname={conninfo(settings)}",
        "--no-loop",
        "--no-password",
        "--synchronous",
        f"--status-interval={STATUS_INTERVAL_SECONDS}",
    ]
    if settings.compression.method != "none":
        argv.append(f"--compress={settings.compression.argument()}")
    if settings.verbose:
        argv.append("--verbose")
    return argv
