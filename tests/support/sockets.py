"""Copying between two sockets, for the harness's TCP forwarders and proxies."""

from __future__ import annotations

import contextlib
import socket


def pipe(source: socket.socket, sink: socket.socket) -> None:
    """Copy `source` to `sink` until EOF or an error, then half-close both directions."""
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            source.shutdown(socket.SHUT_RD)
