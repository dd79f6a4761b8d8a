"""What every page needs from a request: the viewer, the backends, a checked form."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from threadloom.inspector import _csrf
from threadloom.inspector._access import Access, Backends, Viewer
from threadloom.inspector._render import PageError

__all__ = ["LOGIN_COOKIE", "State", "form", "json_object", "state", "viewer"]

LOGIN_COOKIE = "threadloom_inspector_key"
"""The cookie the login form keeps the API key in (HttpOnly, SameSite=Strict)."""


@dataclass
class State:
    backends: Callable[[], Backends]
    access: Access
    writable: bool
    login: bool


def state(request: Request) -> State:
    inspector: State = request.app.state.inspector
    return inspector


async def viewer(request: Request) -> tuple[Viewer, Backends]:
    """The viewer of this request and the backends; a login is asked for when needed."""
    inspector = state(request)
    seen = request.scope.get("threadloom.viewer")
    if seen is None:
        seen = await inspector.access.viewer(request)
        request.scope["threadloom.viewer"] = seen
    return seen, inspector.backends()


async def form(request: Request, *, write: bool = True) -> FormData:
    """A POSTed form from one of our pages (403 otherwise); ``write`` needs ``--write``."""
    data = await request.form()
    token = data.get("csrf")
    if not _csrf.check(request, token if isinstance(token, str) else None):
        raise PageError(403, "refused: the form's CSRF token is missing or wrong (reload the page)")
    if write and not state(request).writable:
        raise PageError(403, "refused: the inspector is read-only (start it with --write)")
    return data


def json_object(text: str, *, invalid: str, not_object: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object, else a 422 page saying ``invalid`` or ``not_object``."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PageError(422, f"{invalid}: {exc}") from None
    if not isinstance(parsed, dict):
        raise PageError(422, not_object)
    return parsed
