"""structlog set-up for every role: JSON lines in containers, readable on a terminal.

structlog and stdlib logging (grpc, asyncio, psycopg) go to one stream in one format.
Tracebacks are rendered as plain text without local variables, so key material held in a
local can never reach the log.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]


def default_format(stream: TextIO = sys.stderr) -> LogFormat:
    """``console`` on a terminal, ``json`` otherwise."""
    return "console" if stream.isatty() else "json"


def configure(
    log_format: LogFormat | None, *, level: int = logging.INFO, file: TextIO | None = None
) -> None:
    """Log to stderr (or *file*) as *log_format*, `default_format` when None."""
    stream = file or sys.stderr
    chosen = log_format or default_format(stream)
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if chosen == "json":
        shared.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,  # tests and `demo` configure again in one process
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processor=renderer)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
