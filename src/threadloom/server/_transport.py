"""uvicorn's HTTP protocol with one socket write per response where it sends two.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two
``send`` system calls, and two packets for the client to wake up for, for every
small JSON reply. :class:`OneWriteTransport` holds what is written during one turn
of the event loop and writes it at the end of that turn as one piece. An app sends
a response's head and body back to back, so they leave together; a stream's later
events, sent in later turns, still leave as soon as each is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

__all__ = ["OneWriteTransport", "http_protocol"]


class OneWriteTransport:
    """A transport that joins the writes of one event-loop turn into one write.

    Everything but ``write``, ``writelines``, ``close`` and ``abort`` is the
    wrapped transport's own; closing first writes what is held.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is held now."""
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def http_protocol() -> type[asyncio.Protocol]:
    """The HTTP protocol class uvicorn would choose (httptools', else h11's), writing once.

    Pass it as uvicorn's ``http`` option.
    """
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol

    class OneWriteHTTPProtocol(base):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
            real = cast("asyncio.Transport", transport)
            wrapped: Any = OneWriteTransport(real, asyncio.get_running_loop())
            self.transport = wrapped

    return OneWriteHTTPProtocol
