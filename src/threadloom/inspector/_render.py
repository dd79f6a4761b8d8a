"""Pages: the Jinja environment (autoescaping every value), the page frame and error pages."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from threadloom.inspector import _csrf

__all__ = ["PageError", "base_path", "join_ns", "redirect", "render"]

HERE = Path(__file__).parent

# Autoescape everything: every stored string (memory values, messages, metadata,
# thread ids) reaches the page as inert text.
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["q"] = lambda value: quote(str(value), safe="")


def _when(value: object) -> str:
    """An ISO time as ``2026-01-31 12:00:05`` (UTC as stored); anything else as given."""
    if not value:
        return ""
    try:
        return datetime.datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value)


_ENV.filters["when"] = _when

SECURITY_HEADERS = {
    # Only our own scripts run; mermaid styles its SVG inline.
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


class PageError(Exception):
    """A request the inspector refuses: shown as an error page with ``status``; nothing changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def base_path(request: Request) -> str:
    """Where the inspector is mounted (``""`` at the root, ``"/inspector"`` in the server)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def join_ns(namespace: tuple[str, ...]) -> str:
    """A namespace as the URL and the page write it: labels joined by dots (labels have none)."""
    return ".".join(namespace)


def _finish(request: Request, response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    new = request.scope.get("threadloom.csrf")
    if new is not None and request.cookies.get(_csrf.COOKIE) != new:
        response.set_cookie(
            _csrf.COOKIE, new, httponly=True, samesite="strict", path=base_path(request) or "/"
        )
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    """The page ``template`` with the frame's context (viewer, CSRF token, base path)."""
    inspector = request.app.state.inspector
    context.setdefault("viewer", request.scope.get("threadloom.viewer"))
    html = _ENV.get_template(template).render(
        base=base_path(request),
        csrf=_csrf.token(request),
        writable=inspector.writable,
        login=inspector.login,
        join_ns=join_ns,
        **context,
    )
    return _finish(request, HTMLResponse(html, status_code=status))


def redirect(request: Request, path: str) -> Response:
    """After a POST: see the result with a GET (303)."""
    return _finish(request, RedirectResponse(base_path(request) + path, status_code=303))
