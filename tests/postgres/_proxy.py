"""A TCP relay between the tests and PostgreSQL that can cut every connection at once.

Cutting closes both sockets without a word, as a firewall dropping an idle
connection or a failed SSL session does: the client sees the connection end
with no error message from the server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class Relay:
    """Listens on a free loopback port and relays each connection to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            server = socket.create_connection(self.target)
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> int:
        """Close every relayed connection, both ends; returns how many sockets were open."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            self._drop(sock)
        return len(sockets)

    def close(self) -> None:
        self._listener.close()
        self.cut()


@contextlib.contextmanager
def relay(host: str, port: int) -> Iterator[Relay]:
    """A :class:`Relay` to ``host:port`` for the ``with`` block."""
    proxy = Relay((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
