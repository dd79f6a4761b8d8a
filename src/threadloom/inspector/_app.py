"""The inspector's ASGI app: its routes, static assets, login, CSRF guard and error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from threadloom.errors import CheckpointConflictError, ThreadloomError
from threadloom.inspector import _graph_pages, _memory_pages, _thread_pages
from threadloom.inspector._access import OPEN, Access, Backends, NotAuthenticated
from threadloom.inspector._render import HERE, PageError, base_path, redirect, render
from threadloom.inspector._request import LOGIN_COOKIE, State, form

__all__ = ["create_inspector"]

log = logging.getLogger("threadloom.inspector")


async def home(request: Request) -> Response:
    return redirect(request, "/threads")


async def login_page(request: Request) -> Response:
    return render(request, "login.html", viewer=None, error=None)


async def login_post(request: Request) -> Response:
    data = await form(request, write=False)
    key = str(data.get("api_key") or "").strip()
    if not key:
        return render(request, "login.html", status=422, viewer=None, error="enter an API key")
    response = redirect(request, "/threads")
    response.set_cookie(
        LOGIN_COOKIE, key, httponly=True, samesite="strict", path=base_path(request) or "/"
    )
    return response


async def logout(request: Request) -> Response:
    await form(request, write=False)
    response = redirect(request, "/login")
    response.delete_cookie(LOGIN_COOKIE, path=base_path(request) or "/")
    return response


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    return render(request, "error.html", status=exc.status, message=exc.message)


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(request, "error.html", status=exc.status_code, message=str(exc.detail))


async def _unauthenticated(request: Request, exc: Exception) -> Response:
    if request.method == "GET":
        return redirect(request, "/login")
    return render(request, "error.html", status=401, viewer=None, message="log in first")


async def _threadloom_error(request: Request, exc: Exception) -> Response:
    """Our typed errors of bad input (a filter, a namespace, a value): 422, nothing changed;
    a thread another writer moved on meanwhile: 409."""
    if isinstance(exc, CheckpointConflictError):
        return render(request, "error.html", status=409, message=f"{type(exc).__name__}: {exc}")
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return render(request, "error.html", status=422, message=f"{type(exc).__name__}: {exc}")
    log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
    return render(request, "error.html", status=500, message=f"{type(exc).__name__}: {exc}")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return render(request, "error.html", status=500, message="internal error (see the log)")


def create_inspector(
    backends: Backends | Callable[[], Backends],
    *,
    access: Access | None = None,
    writable: bool = False,
    login: bool = False,
) -> Starlette:
    """The inspector app over ``backends`` (or a function returning them, for lazy opening).

    ``access`` turns a request into a :class:`Viewer` (default: everyone sees
    everything); ``writable`` allows edits, deletes, resumes and forks;
    ``login`` offers a form that keeps an API key in :data:`LOGIN_COOKIE`.
    """
    provider = backends if callable(backends) else (lambda: backends)
    routes: list[Any] = [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *_thread_pages.ROUTES,
        *_memory_pages.ROUTES,
        *_graph_pages.ROUTES,
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            PageError: _page_error,
            HTTPException: _not_found,
            NotAuthenticated: _unauthenticated,
            ThreadloomError: _threadloom_error,
            Exception: _unexpected,
        },
    )
    app.state.inspector = State(provider, access or OPEN, writable, login)
    return app
