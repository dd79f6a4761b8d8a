"""Dispatch: every route of the API still answers its own requests, and only those.

The server indexes its routes by path shape (``threadloom.server._routing``); these
tests hold it to Starlette's own rule (the first route declared that matches wins),
then send a request to each route of a live server, and check what a path or a
method that no route takes gets back: a JSON 404 or 405 (with every allowed method).
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import HERE, graph_specs, running
from starlette.routing import Match, Mount, Route

from threadloom.server import ServerConfig, create_app
from threadloom.server._routing import ShapeRouter, route_path

SAMPLE = str(uuid.uuid4())


def concrete(path: str) -> str:
    """``path`` with each ``{param}`` replaced by a sample id."""
    return re.sub(r"\{[^}]+\}", SAMPLE, path)


def scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path}


def first_match(routes: Any, request: dict[str, Any]) -> Any:
    """The route Starlette's router would choose: the first declared that fully matches."""
    return next((r for r in routes if r.matches(request)[0] is Match.FULL), None)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    db = tmp_path_factory.mktemp("routing") / "server.db"
    return create_app(ServerConfig(graphs=graph_specs(), base_dir=HERE), database=str(db))


@pytest.fixture(scope="module")
def http(app: Any) -> Iterator[httpx.Client]:
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def api_routes(app: Any) -> list[Route]:
    return [r for r in app.router.routes if isinstance(r, Route)]


def test_the_app_dispatches_with_the_shape_router(app: Any) -> None:
    assert isinstance(app.router, ShapeRouter)
    assert len(api_routes(app)) >= 39


@pytest.mark.parametrize("root_path", ["", "/behind/a/proxy"])
def test_each_route_is_found_as_a_linear_scan_finds_it(app: Any, root_path: str) -> None:
    """For every route and method: the shape index picks the route the full scan picks."""
    router: ShapeRouter = app.router
    for route in api_routes(app):
        for method in sorted(route.methods or ()):
            request = scope(method, concrete(route.path), root_path)
            candidates = router.candidates(route_path(request))
            chosen = first_match(candidates, request)
            assert chosen is first_match(router.routes, request), (method, route.path)
            assert chosen is route, (method, route.path, chosen and chosen.path)


def test_paths_beyond_the_api_find_no_route(app: Any) -> None:
    router: ShapeRouter = app.router
    for path in ["/", "/nope", "/threads/a/b/c/d/e/f", "/store/items/search/more", "/ok/x"]:
        request = scope("GET", path)
        assert first_match(router.candidates(path), request) is None, path
        assert first_match(router.routes, request) is None, path


def test_the_inspector_mount_takes_every_path_under_it(app: Any) -> None:
    router: ShapeRouter = app.router
    for path in ["/inspector/", "/inspector/threads", "/inspector/threads/x/y/z"]:
        chosen = first_match(router.candidates(path), scope("GET", path))
        assert isinstance(chosen, Mount), path
    # Without the slash no route matches (Starlette then redirects to add it), as before.
    assert first_match(router.candidates("/inspector"), scope("GET", "/inspector")) is None
    assert first_match(router.routes, scope("GET", "/inspector")) is None


def test_every_route_answers_its_own_requests(http: httpx.Client, app: Any) -> None:
    """Over HTTP: no route's request gets the router's 404 or a 405 (an unknown id's 404 is fine)."""
    for route in api_routes(app):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            path = concrete(route.path)
            body = None if method in ("GET", "DELETE") else {}
            response = http.request(method, path, json=body)
            assert response.status_code != 405, (method, path, response.text)
            assert response.headers["content-type"].startswith("application/json"), (method, path)
            if response.status_code == 404:
                assert response.json()["detail"] != "Not Found", (method, path)


@pytest.mark.parametrize(
    "path", ["/nope", "/threads/x/y/z/w/v", "/store/items/search/extra", "/assistants//schemas"]
)
def test_unknown_paths_get_a_json_404(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/threads", "POST"),
        ("POST", "/store/items", "DELETE, GET, HEAD, PUT"),
        ("PATCH", f"/threads/{SAMPLE}/state", "GET, HEAD, POST"),
        ("GET", "/store/items/search", "POST"),
        ("DELETE", "/ok", "GET, HEAD"),
        ("PUT", f"/threads/{SAMPLE}/runs/{SAMPLE}", "DELETE, GET, HEAD"),
    ],
)
def test_a_method_the_path_does_not_take_gets_a_json_405(
    http: httpx.Client, method: str, path: str, allowed: str
) -> None:
    """The ``Allow`` header lists the methods of every route of the path."""
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allowed


def test_a_trailing_slash_is_redirected_as_before(http: httpx.Client) -> None:
    response = http.get("/info/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"].endswith("/info")


def test_head_and_body_arrive_whole_on_a_kept_alive_connection(http: httpx.Client) -> None:
    """Pipelined requests on one socket: each answer complete and in order."""
    host, port = str(http.base_url.host), int(http.base_url.port or 80)
    requests = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in ("/ok", "/info", "/ok")
    )
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(requests + b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 4
    assert all(a.startswith(b"200 OK\r\n") for a in answers)
    assert [a.rsplit(b"\r\n\r\n", 1)[1] for a in answers][::2] == [b'{"ok":true}'] * 2
    assert b'"server":"threadloom"' in answers[1]
    assert answers[3].endswith(b'{"ok":true}')


def test_with_auth_on_a_request_without_credentials_is_refused_before_routing(
    tmp_path: Path,
) -> None:
    config = ServerConfig(graphs=graph_specs(), base_dir=HERE, api_keys={"key-a": "alice"})
    app = create_app(config, database=str(tmp_path / "auth.db"))
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for path in ["/nope", f"/threads/{SAMPLE}/state", "/store/items/search"]:
            assert client.get(path).status_code == 401, path
        assert client.get("/ok").status_code == 200
        keyed = {"x-api-key": "key-a"}
        assert client.get(f"/threads/{SAMPLE}/state", headers=keyed).status_code == 404
        assert client.get("/nope", headers=keyed).json() == {"detail": "Not Found"}
