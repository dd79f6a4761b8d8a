"""Request dispatch: each request is matched only against the routes of its path's shape.

Starlette's router tries every route in turn, a regular expression each; with the
forty-odd routes of the Agent Server API, a store search went through more than
thirty of them. :class:`ShapeRouter` indexes the routes once by their path's shape,
the first segment and the number of segments (a ``{param}`` holds exactly one
segment), so a request tries the two or three routes that could match it, in the
order they were declared, with Starlette's own matching. Routes whose shape is not
fixed (a ``{name:path}`` parameter, a parameter as the first segment) are tried
for every request; a mount is tried for every path under its prefix.

A path with no full match falls through to Starlette's router, so redirects of a
trailing slash and 404s are answered as before. A path that matches with another
method is a 405 whose ``Allow`` header lists every method the path takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.convertors import PathConvertor
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

__all__ = ["ShapeRouter", "route_path", "shape"]

Shape = tuple[str, int]


def route_path(scope: Scope) -> str:
    """The request's path below the app's ``root_path`` (as Starlette's routes read it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def shape(path: str) -> Shape:
    """A path's first segment and its number of segments: ``/threads/x/state`` is ("threads", 3)."""
    return path[1:].partition("/")[0], path.count("/")


class ShapeRouter(Router):
    """A Starlette router that dispatches HTTP requests by path shape (see the module doc)."""

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(routes=list(routes), **options)
        by_shape: dict[Shape, list[int]] = {}
        under: dict[str, list[int]] = {}  # mounts, by their first segment
        everywhere: list[int] = []  # routes of no fixed shape
        for index, route in enumerate(self.routes):
            if isinstance(route, Route) and not any(
                isinstance(c, PathConvertor) for c in route.param_convertors.values()
            ):
                first, depth = shape(route.path)
                if "{" in first:
                    everywhere.append(index)
                else:
                    by_shape.setdefault((first, depth), []).append(index)
            elif isinstance(route, Mount) and route.path and "{" not in route.path:
                under.setdefault(shape(route.path)[0], []).append(index)
            else:
                everywhere.append(index)

        def ordered(indices: list[int]) -> tuple[BaseRoute, ...]:
            return tuple(self.routes[i] for i in sorted(set(indices)))

        self._everywhere = ordered(everywhere)
        self._under = {first: ordered(i + everywhere) for first, i in under.items()}
        self._by_shape = {
            key: ordered(i + under.get(key[0], []) + everywhere) for key, i in by_shape.items()
        }

    def candidates(self, path: str) -> tuple[BaseRoute, ...]:
        """The routes that may match ``path``, in their declared order."""
        key = shape(path)
        found = self._by_shape.get(key)
        if found is None:
            found = self._under.get(key[0], self._everywhere)
        return found

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (and websockets, which the server has none of)
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self
        allowed: set[str] = set()
        for route in self.candidates(route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL:
                allowed.update(getattr(route, "methods", None) or ())
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
        # No route takes this path: Starlette's own answer (a trailing-slash redirect or 404).
        await super().app(scope, receive, send)
