"""A TCP forwarder standing in for the cluster's ``-rw`` Service: one address, a target
that moves to the new primary on failover (open connections are cut, as a Service's
endpoints change would). TLS passes through untouched."""

from __future__ import annotations

import contextlib
import socket
import threading

from support import sockets


class Proxy:
    """Listens on 127.0.0.1:<port> and forwards to 127.0.0.1:<target>."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def switch(self, target: int) -> None:
        """Point at another server and cut every open connection."""
        self.target = target
        self._cut()

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self._cut()

    def _cut(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=sockets.pipe, args=(a, b), daemon=True).start()
