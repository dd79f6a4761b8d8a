"""The ASGI app: the routes of every resource, error replies, and the server's lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from threadloom import __version__
from threadloom.errors import StoreError, ThreadloomError
from threadloom.server import _assistants, _run_routes, _store_routes, _threads
from threadloom.server._config import ServerConfig, load_config
from threadloom.server._http import HTTPError, reply
from threadloom.server._inspector import PATH as INSPECTOR_PATH
from threadloom.server._inspector import inspector_app
from threadloom.server._routing import ShapeRouter
from threadloom.server._server import Server

__all__ = ["create_app"]

log = logging.getLogger("threadloom.server")


async def ok(request: Request) -> Response:
    return reply({"ok": True})


async def info(request: Request) -> Response:
    server: Server = request.app.state.server
    return reply(
        {
            "version": __version__,
            "server": "threadloom",
            "flags": {"assistants": True, "crons": False, "langsmith": False},
            "graphs": sorted(server.graphs),
        }
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return reply({"detail": exc.detail}, status=exc.status)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return reply({"detail": exc.detail}, status=exc.status_code, headers=dict(exc.headers or {}))


async def _client_error(request: Request, exc: Exception) -> Response:
    """Our typed errors of bad input (namespace, filter, value, option): 422, nothing changed.

    Registered for ``ThreadloomError`` so Starlette answers it in the router; a handler
    for ``Exception`` answers too but then re-raises, which drops the kept-alive connection.
    """
    if isinstance(exc, (StoreError, ValueError, TypeError, KeyError)):
        return reply({"detail": f"{type(exc).__name__}: {exc}"}, status=422)
    return await _server_error(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return reply({"detail": "internal server error"}, status=500)


def create_app(
    config: ServerConfig | str | os.PathLike[str],
    *,
    database: str | None = None,
    postgres: str | None = None,
    workers: int = 8,
    require_auth: bool = False,
) -> Starlette:
    """An ASGI app serving ``config``'s graphs with the Agent Server HTTP API.

    ``config`` is a :class:`ServerConfig` or the path of a ``langgraph.json``.
    Persistence is the SQLite file ``database`` (default ``threadloom.db``), or
    PostgreSQL at ``postgres`` (several processes may share it). ``workers`` pool
    threads execute runs. ``require_auth`` refuses to build an app without auth
    (``threadloom serve`` sets it when binding beyond loopback).
    """
    if not isinstance(config, ServerConfig):
        config = load_config(Path(config))
    server = Server(
        config, database=database, postgres=postgres, workers=workers, require_auth=require_auth
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        server.open()
        try:
            yield
        finally:
            await server.runs.shutdown()
            server.close()

    routes: list[Any] = [
        Route("/ok", ok, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
        *_assistants.ROUTES,
        *_threads.ROUTES,
        *_run_routes.ROUTES,
        *_store_routes.ROUTES,
        Mount(INSPECTOR_PATH, app=inspector_app(server)),
    ]
    app = Starlette(
        # Without auth there is nothing to check: no layer at all, rather than one that
        # looks at every request to pass it on.
        middleware=[] if server.auth is None else [Middleware(_Authenticate, server=server)],
        exception_handlers={
            HTTPError: _http_error,
            HTTPException: _starlette_error,
            ThreadloomError: _client_error,
            Exception: _server_error,
        },
    )
    app.router = ShapeRouter(routes, lifespan=lifespan)
    app.state.server = server
    return app


class _Authenticate:
    """Authenticates every request but ``/ok`` before its route reads anything (401 first).

    The inspector's pages authenticate themselves (a browser logs in with a form).
    """

    def __init__(self, app: Any, server: Server) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.server.auth is not None and not _exempt(scope["path"]):
            try:
                await self.server.user(Request(scope, receive))
            except HTTPError as exc:
                await reply({"detail": exc.detail}, status=exc.status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _exempt(path: str) -> bool:
    return path == "/ok" or path == INSPECTOR_PATH or path.startswith(INSPECTOR_PATH + "/")
