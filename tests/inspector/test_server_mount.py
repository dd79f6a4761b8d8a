"""The inspector inside ``threadloom serve``: at /inspector, behind the server's auth."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))

from _live import HERE, graph_specs

from threadloom.server import ServerConfig, create_app

KEYS = {"key-alice": "alice", "key-bob": "bob"}


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(
        ServerConfig(base_dir=HERE, graphs=graph_specs(), api_keys=KEYS),
        database=str(tmp_path / "server.db"),
        workers=2,
    )
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _bob_world(c: TestClient) -> dict[str, str]:
    bob = {"x-api-key": "key-bob"}
    tid = c.post("/threads", json={"metadata": {"secret": "bob-thread"}}, headers=bob).json()[
        "thread_id"
    ]
    r = c.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "asker", "input": {"n": 1}}, headers=bob
    )
    assert r.status_code == 200, r.text
    assert (
        c.put(
            "/store/items",
            json={"namespace": ["notes"], "key": "k", "value": {"secret": "bob-note"}},
            headers=bob,
        ).status_code
        == 204
    )
    return {"tid": tid}


def _login(c: TestClient, key: str) -> None:
    page = c.get("/inspector/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    r = c.post("/inspector/login", data={"csrf": token.group(1), "api_key": key})
    assert r.status_code == 303


def test_login_is_required(app_client: TestClient) -> None:
    r = app_client.get("/inspector/threads")
    assert r.status_code == 303 and r.headers["location"] == "/inspector/login"
    _login(app_client, "wrong-key")
    assert app_client.get("/inspector/threads").headers["location"] == "/inspector/login"
    # The API itself still wants its key.
    assert app_client.get("/threads/search").status_code in (401, 405)


def test_a_user_sees_only_their_own_threads_and_memories(app_client: TestClient) -> None:
    world = _bob_world(app_client)
    tid = world["tid"]
    _login(app_client, "key-alice")
    threads = app_client.get("/inspector/threads").text
    assert "alice" in threads and tid not in threads
    assert app_client.get(f"/inspector/threads/{tid}").status_code == 404
    assert (
        app_client.get("/inspector/threads", params={"id": tid}).text.count(tid) == 1
    )  # the search box only
    assert "notes" not in app_client.get("/inspector/memories").text
    assert app_client.get("/inspector/memories/item?ns=notes&key=k").status_code == 404
    assert "bob-note" not in app_client.get("/inspector/memories/search?query=").text
    assert "threadloom_server" not in app_client.get("/inspector/memories").text

    app_client.cookies.clear()
    _login(app_client, "key-bob")
    threads = app_client.get("/inspector/threads").text
    assert tid in threads and "bob-thread" in threads
    by_meta = app_client.get("/inspector/threads", params={"metadata": "secret=bob-thread"}).text
    assert tid in by_meta
    assert tid not in app_client.get("/inspector/threads", params={"metadata": "secret=x"}).text
    thread = app_client.get(f"/inspector/threads/{tid}").text
    assert "how many?" in thread and 'id="resume"' in thread and "asker" in thread
    root = app_client.get("/inspector/memories").text
    assert re.search(r'>notes</a>\s*<span class="count">1</span>', root)
    assert "bob-note" in app_client.get("/inspector/memories/item?ns=notes&key=k").text
    assert (
        "graph TD" in app_client.get("/inspector/graphs").text
        or "flowchart" in app_client.get("/inspector/graphs").text
    )


def test_a_user_resumes_their_thread(app_client: TestClient) -> None:
    tid = _bob_world(app_client)["tid"]
    _login(app_client, "key-bob")
    page = app_client.get(f"/inspector/threads/{tid}").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    r = app_client.post(
        f"/inspector/threads/{tid}/resume", data={"csrf": token.group(1), "value": "5"}
    )
    assert r.status_code == 303
    state = app_client.get(f"/threads/{tid}/state", headers={"x-api-key": "key-bob"}).json()
    assert state["values"] == {"n": 6}
    record = app_client.get(f"/threads/{tid}", headers={"x-api-key": "key-bob"}).json()
    assert record["status"] == "idle" and record["values"] == {"n": 6} and not record["interrupts"]


def test_a_custom_auth_policy_applies(tmp_path: Path) -> None:
    """An ``Auth`` whose store rule refuses (or only filters) shows that user no memories."""
    from threadloom.server import Auth

    auth = Auth()

    @auth.authenticate
    async def who(authorization: str | None) -> str:
        if authorization not in ("Bearer dave", "Bearer erin"):
            raise PermissionError("bad token")
        return authorization.split()[1]

    @auth.on.threads
    async def own(ctx, value):  # type: ignore[no-untyped-def]
        value.setdefault("metadata", {})["who"] = ctx.user.identity
        return {"who": ctx.user.identity}

    @auth.on.store
    async def store(ctx, value):  # type: ignore[no-untyped-def]
        return False if ctx.user.identity == "dave" else {"kind": "public"}

    app = create_app(
        ServerConfig(base_dir=HERE, graphs=graph_specs(), auth=auth),
        database=str(tmp_path / "server.db"),
        workers=2,
    )
    with TestClient(app, follow_redirects=False) as c:
        erin = {"authorization": "Bearer erin"}
        tid = c.post("/threads", json={}, headers=erin).json()["thread_id"]
        _login(c, "dave")
        assert tid not in c.get("/inspector/threads").text
        assert c.get("/inspector/memories").status_code == 403
        c.cookies.clear()
        _login(c, "erin")
        assert tid in c.get("/inspector/threads").text
        assert c.get("/inspector/memories").status_code == 403
