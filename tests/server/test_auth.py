"""Auth and isolation: API keys, a custom Auth object, and user A attacking user B's data."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from _live import HERE, Serve, graph_specs
from langgraph_sdk import Auth as SdkAuth
from langgraph_sdk import get_sync_client

from threadloom.errors import ServerConfigError
from threadloom.server import Auth, ServerConfig, create_app

KEYS = {"key-alice": "alice", "key-bob": "bob"}


def _client(url: str, key: str | None) -> httpx.Client:
    headers = {"x-api-key": key} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


def _bob_world(url: str) -> dict[str, Any]:
    """Bob's thread (with a finished and an interrupted run), assistant and memories."""
    with get_sync_client(url=url, api_key="key-bob") as bob:
        thread = bob.threads.create(metadata={"secret": "bob-thread"})
        tid = thread["thread_id"]
        run = bob.runs.create(tid, "counter", input={"n": 41})
        bob.runs.join(tid, run["run_id"])
        asked = bob.threads.create()["thread_id"]
        bob.runs.wait(asked, "asker", input={"n": 1})
        assistant = bob.assistants.create("counter", name="bobs", metadata={"secret": "x"})
        bob.store.put_item(["notes"], "k", {"secret": "bob-note"})
        state = bob.threads.get_state(tid)
        return {
            "tid": tid,
            "asked": asked,
            "run_id": run["run_id"],
            "aid": assistant["assistant_id"],
            "checkpoint_id": state["checkpoint"]["checkpoint_id"],
            "values": state["values"],
        }


def _attacks(w: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every route, aimed at Bob's ids: (method, path, request options)."""
    t, r, a = w["tid"], w["run_id"], w["aid"]
    run_body = {"assistant_id": "counter", "input": {"n": 0}}
    return [
        ("GET", f"/threads/{t}", {}),
        ("PATCH", f"/threads/{t}", {"json": {"metadata": {"owner": "alice"}}}),
        ("DELETE", f"/threads/{t}", {}),
        ("POST", f"/threads/{t}/copy", {}),
        ("GET", f"/threads/{t}/state", {}),
        ("GET", f"/threads/{t}/state/{w['checkpoint_id']}", {}),
        (
            "POST",
            f"/threads/{t}/state/checkpoint",
            {"json": {"checkpoint": {"checkpoint_id": w["checkpoint_id"]}}},
        ),
        ("POST", f"/threads/{t}/state", {"json": {"values": {"n": -1}}}),
        ("POST", f"/threads/{t}/history", {"json": {}}),
        ("GET", f"/threads/{t}/history", {}),
        ("POST", "/threads", {"json": {"thread_id": t, "if_exists": "do_nothing"}}),
        ("POST", f"/threads/{t}/runs", {"json": run_body}),
        ("POST", f"/threads/{t}/runs/wait", {"json": run_body}),
        ("POST", f"/threads/{t}/runs/stream", {"json": run_body}),
        ("POST", f"/threads/{t}/runs/wait", {"json": {**run_body, "if_not_exists": "create"}}),
        (
            "POST",
            f"/threads/{w['asked']}/runs/wait",
            {"json": {"assistant_id": "asker", "command": {"resume": 1}}},
        ),
        ("GET", f"/threads/{t}/runs", {}),
        ("GET", f"/threads/{t}/runs/{r}", {}),
        ("GET", f"/threads/{t}/runs/{r}/join", {}),
        ("GET", f"/threads/{t}/runs/{r}/stream", {}),
        ("POST", f"/threads/{t}/runs/{r}/cancel", {}),
        ("DELETE", f"/threads/{t}/runs/{r}", {}),
        ("GET", f"/assistants/{a}", {}),
        ("PATCH", f"/assistants/{a}", {"json": {"metadata": {"x": 1}}}),
        ("DELETE", f"/assistants/{a}", {}),
        ("GET", f"/assistants/{a}/schemas", {}),
        ("GET", f"/assistants/{a}/graph", {}),
        (
            "POST",
            "/assistants",
            {"json": {"graph_id": "counter", "assistant_id": a, "if_exists": "do_nothing"}},
        ),
        ("POST", "/runs/wait", {"json": {"assistant_id": a, "input": {"n": 1}}}),
        ("GET", "/store/items", {"params": {"namespace": "bob.notes", "key": "k"}}),
        ("GET", "/store/items", {"params": {"namespace": "notes", "key": "k"}}),
        ("DELETE", "/store/items", {"json": {"namespace": ["bob", "notes"], "key": "k"}}),
        (
            "PUT",
            "/store/items",
            {"json": {"namespace": ["bob", "notes"], "key": "k", "value": {"x": 1}}},
        ),
    ]


def _leaks(response: httpx.Response) -> bool:
    body = response.text.replace(" ", "")
    return any(
        s in body for s in ("bob-thread", "bob-note", '"secret"', '"n":41', '"n":42', "bobs")
    )


def test_user_a_reaches_nothing_of_user_b(serve: Serve) -> None:
    """Alice, knowing Bob's ids, reads and writes nothing of his: 0 reads, 0 writes."""
    url = serve(api_keys=KEYS)
    world = _bob_world(url)
    reads = writes = 0
    with _client(url, "key-alice") as alice:
        for method, path, options in _attacks(world):
            response = alice.request(method, path, **options)
            assert response.status_code != 500, (method, path, response.text)
            if "/store/" not in path:  # refused as the SDK expects: 403, 404 or 409
                assert response.status_code in (403, 404, 409), (method, path, response.text)
            if _leaks(response):
                reads += 1
            if response.status_code < 300 and method != "GET" and "/store/" not in path:
                writes += 1
        # Searches and listings show Alice nothing of Bob's.
        assert alice.post("/threads/search", json={"limit": 100}).json() == []
        assert alice.post("/threads/count", json={}).json() == 0
        names = [a["name"] for a in alice.post("/assistants/search", json={"limit": 100}).json()]
        assert "bobs" not in names and "counter" in names
        # Her own put aimed at ["bob", "notes"] landed under her identity.
        items = alice.post("/store/items/search", json={"namespace_prefix": []}).json()["items"]
        assert [i["namespace"] for i in items] == [["alice", "bob", "notes"]]
        assert alice.post("/store/namespaces", json={}).json() == {
            "namespaces": [["alice", "bob", "notes"]]
        }
    assert (reads, writes) == (0, 0)
    # Bob's data is intact.
    with get_sync_client(url=url, api_key="key-bob") as bob:
        assert bob.threads.get(world["tid"])["metadata"]["secret"] == "bob-thread"
        assert bob.threads.get_state(world["tid"])["values"] == world["values"]
        assert bob.runs.get(world["tid"], world["run_id"])["status"] == "success"
        assert bob.assistants.get(world["aid"])["metadata"] == {"secret": "x", "owner": "bob"}
        assert bob.store.get_item(["notes"], "k")["value"] == {"secret": "bob-note"}
        assert bob.threads.get(world["asked"])["status"] == "interrupted"
        assert bob.store.list_namespaces()["namespaces"] == [["bob", "notes"]]


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_missing_or_invalid_credentials_get_401(serve: Serve, key: str | None) -> None:
    """Every route refuses a request without valid credentials with 401 and a JSON body."""
    url = serve(api_keys=KEYS)
    with _client(url, key) as anyone:
        for method, path in [
            ("POST", "/threads"),
            ("POST", "/threads/search"),
            ("GET", f"/threads/{uuid.uuid4()}"),
            ("POST", "/runs/wait"),
            ("POST", "/assistants/search"),
            ("PUT", "/store/items"),
            ("POST", "/store/items/search"),
        ]:
            response = anyone.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert "detail" in response.json()
        assert anyone.get("/ok").status_code == 200


def test_bearer_tokens_and_each_users_own_data(serve: Serve) -> None:
    """A key works as a bearer token; each user sees their own threads and namespaces."""
    url = serve(api_keys=KEYS)
    with get_sync_client(url=url, headers={"Authorization": "Bearer key-alice"}) as alice:
        tid = alice.threads.create()["thread_id"]
        assert alice.runs.wait(tid, "counter", input={"n": 1}) == {"n": 2}
        alice.store.put_item(["prefs"], "theme", {"v": "dark"})
        assert alice.store.search_items(["prefs"])["items"][0]["namespace"] == ["alice", "prefs"]
        assert [t["thread_id"] for t in alice.threads.search()] == [tid]


def _custom_auth(auth: Any) -> Any:
    @auth.authenticate
    async def who(authorization: str | None) -> dict[str, Any]:
        if not authorization or not authorization.startswith("Token "):
            raise PermissionError("no token")
        name = authorization.removeprefix("Token ")
        return {"identity": name, "permissions": ["admin"] if name == "root" else []}

    @auth.on.threads.create
    async def stamp(ctx: Any, value: dict[str, Any]) -> None:
        value.setdefault("metadata", {})["owner"] = ctx.user.identity

    @auth.on.threads.delete
    async def admins_only(ctx: Any, value: dict[str, Any]) -> bool:
        return "admin" in ctx.user.permissions

    @auth.on.threads
    async def own(ctx: Any, value: dict[str, Any]) -> dict[str, Any]:
        return {"owner": ctx.user.identity}

    @auth.on.store
    async def scope(ctx: Any, value: dict[str, Any]) -> None:
        value["namespace"] = (ctx.user.identity, *value["namespace"])

    return auth


@pytest.mark.parametrize("flavour", [Auth, SdkAuth], ids=["threadloom", "langgraph_sdk"])
def test_a_custom_auth_object(serve: Serve, flavour: type) -> None:
    """An Auth with LangGraph's decorator shape: authenticate, per-action handlers, 403."""
    url = serve(auth=_custom_auth(flavour()))
    with _client(url, None) as nobody:
        assert nobody.post("/threads", json={}).status_code == 401
    with httpx.Client(base_url=url, headers={"Authorization": "Token carol"}) as carol:
        tid = carol.post("/threads", json={}).json()["thread_id"]
        assert carol.get(f"/threads/{tid}").json()["metadata"]["owner"] == "carol"
        assert carol.delete(f"/threads/{tid}").status_code == 403
        carol.put("/store/items", json={"namespace": ["n"], "key": "k", "value": {"a": 1}})
    with httpx.Client(base_url=url, headers={"Authorization": "Token dave"}) as dave:
        assert dave.get(f"/threads/{tid}").status_code == 404
        assert dave.get("/store/items", params={"namespace": "carol.n", "key": "k"}).json() is None
    with httpx.Client(base_url=url, headers={"Authorization": "Token carol"}) as carol:
        assert carol.get("/store/items", params={"namespace": "n", "key": "k"}).json()["value"] == {
            "a": 1
        }


def test_auth_is_required_beyond_loopback(tmp_path: Any) -> None:
    """An app for a non-loopback address refuses to start without auth."""
    config = ServerConfig(graphs=graph_specs(), base_dir=HERE)
    with pytest.raises(ServerConfigError, match="auth"):
        create_app(config, database=str(tmp_path / "x.db"), require_auth=True)
    with pytest.raises(ServerConfigError, match="reserved"):
        create_app(
            ServerConfig(graphs=graph_specs(), base_dir=HERE, api_keys={"k": "system"}),
            database=str(tmp_path / "x.db"),
        )
