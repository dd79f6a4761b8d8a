"""Request and response plumbing shared by the routes: JSON bodies, limits, error replies."""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from threadloom.server._json import dumps, loads

__all__ = [
    "HTTPError",
    "JSONResponse",
    "body_dict",
    "body_int",
    "body_list",
    "body_str",
    "read_json",
    "read_object",
    "reply",
]


class HTTPError(Exception):
    """A client error: answered with ``status`` and ``{"detail": ...}``; nothing was changed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class JSONResponse(Response):
    """A response whose body is encoded by the server's JSON encoder."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def reply(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``content`` as a JSON response."""
    return JSONResponse(content, status_code=status, headers=headers)


async def read_json(request: Request, *, default: Any = None) -> Any:
    """The request's JSON body (``default`` when empty), within the size limit."""
    limit: int = request.app.state.server.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"request body over the {limit}-byte limit")
    body = await _read_body(request, limit)
    if not body.strip():
        return default
    try:
        return loads(body)
    except ValueError as exc:
        raise HTTPError(422, f"malformed JSON body: {exc}") from None


async def _read_body(request: Request, limit: int) -> bytes:
    """The body's bytes, read from the ASGI messages (at most ``limit`` of them kept).

    Most bodies come in one message; Starlette's ``request.stream()`` would wrap it
    in an async generator. A route reads its body once.
    """
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"request body over the {limit}-byte limit")
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (an empty body is ``{}``)."""
    body = await read_json(request, default={})
    if not isinstance(body, dict):
        raise HTTPError(422, f"the body must be a JSON object, got {type(body).__name__}")
    return body


def body_str(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """``body[key]`` as a non-empty string (or ``None`` when absent and not required)."""
    value = body.get(key)
    if value is None:
        if required:
            raise HTTPError(422, f"'{key}' is required")
        return None
    if not isinstance(value, str) or not value:
        raise HTTPError(422, f"'{key}' must be a non-empty string")
    return value


def body_list(body: dict[str, Any], key: str) -> list[Any] | None:
    """``body[key]`` as a list (a single string becomes a one-item list)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise HTTPError(422, f"'{key}' must be a list")
    return value


def body_int(
    body: dict[str, Any], key: str, default: int, *, low: int = 0, high: int = 10_000
) -> int:
    """``body[key]`` as an int in ``[low, high]``."""
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise HTTPError(422, f"'{key}' must be an integer from {low} to {high}")
    return value


def body_dict(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    """``body[key]`` as a JSON object (or ``None``)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HTTPError(422, f"'{key}' must be a JSON object")
    return value
