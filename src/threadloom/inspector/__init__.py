"""The web inspector: threads, checkpoints and memories in the browser.

``create_inspector(backends)`` returns an ASGI app (server-rendered HTML,
assets served from the package; no CDN, no Node build). ``threadloom serve``
mounts it at ``/inspector`` with the server's auth; ``threadloom inspect
PATH_OR_DSN`` opens it on a database directly. Needs the ``server`` extra:
``pip install 'threadloom[server]'``.
"""

from __future__ import annotations

try:
    import jinja2  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "threadloom.inspector needs the server extra: pip install 'threadloom[server]'"
    ) from exc

from threadloom.inspector._access import Access, Backends, NotAuthenticated, Viewer
from threadloom.inspector._app import create_inspector
from threadloom.inspector._request import LOGIN_COOKIE
from threadloom.inspector._threads import SERVER_THREADS

__all__ = [
    "LOGIN_COOKIE",
    "SERVER_THREADS",
    "Access",
    "Backends",
    "NotAuthenticated",
    "Viewer",
    "create_inspector",
]
