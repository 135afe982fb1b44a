"""Stop on SIGTERM (the kubelet) and SIGINT (a terminal): one way for every role."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: asyncio.Event, log: Any = None, event: str = "") -> Callable[[], None]:
    """Set *stop* on SIGTERM or SIGINT, logging *event* with the signal's name when a *log*
    is given; returns the function that removes the handlers again."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if log is not None:
            log.info(event, signal=signal.Signals(signum).name)
        stop.set()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)

    def remove() -> None:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)

    return remove
