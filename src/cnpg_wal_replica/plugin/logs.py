"""structlog set-up for the plugin server: JSON lines in containers, readable on a terminal.

Tracebacks are rendered as plain text without local variables, so key material held in a
local can never reach the log.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from cnpg_wal_replica.plugin.settings import LogFormat


def default_format(stream: TextIO = sys.stderr) -> LogFormat:
    """``console`` on a terminal, ``json`` otherwise."""
    return "console" if stream.isatty() else "json"


def configure(log_format: LogFormat, *, level: int = logging.INFO) -> None:
    """Send structlog and stdlib logging (grpc, asyncio) to stderr in one format."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if log_format == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
