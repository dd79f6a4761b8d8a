"""Server-sent events: the response that streams a run's events to a client.

Starlette's ``StreamingResponse`` starts a task group and a second task per response
to hear a client leave. A run's stream only needs that when leaving cancels the run
(``on_disconnect="cancel"``); otherwise the run goes on whether anyone reads it, and
:class:`EventStream` simply writes each chunk as it comes (uvicorn drops a write to a
client that left).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.types import Message, Receive, Scope, Send

__all__ = ["EventStream", "sse"]


def sse(event: str, data: bytes) -> bytes:
    """One event in the SSE format."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class EventStream:
    """An ASGI response streaming ``chunks`` as ``text/event-stream``.

    With ``stop_on_leave``, a client that disconnects stops the stream: ``chunks``
    is closed (its ``finally`` runs) at once, not when it next has something to send.
    """

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        headers: dict[str, str] | None = None,
        stop_on_leave: bool = False,
    ) -> None:
        self.chunks = chunks
        self.headers = {"cache-control": "no-store", **(headers or {})}
        self.stop_on_leave = stop_on_leave

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.stop_on_leave:
            await self._stream(send)
            return
        streaming = asyncio.ensure_future(self._stream(send))
        leaving = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait((streaming, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (leaving, streaming):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        if not streaming.cancelled():
            streaming.result()  # its error, if it failed

    async def _stream(self, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        headers += [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            aclose: Callable[[], Awaitable[None]] | None = getattr(self.chunks, "aclose", None)
            if aclose is not None:
                await aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnect(receive: Receive) -> Message:
    """Wait for the client to leave (any request body left is read and dropped)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return message
