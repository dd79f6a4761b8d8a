"""Bad input: every case gets a 4xx with a JSON error body, and the database is unchanged.

Each request goes to a live server on a SQLite file; the file's full dump is taken
before and after, so "nothing changed" covers threads, runs, checkpoints and items.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _live import HERE, graph_specs, running

from threadloom.server import ServerConfig, create_app
from threadloom.server._records import ROOT

LIMIT = 4096  # the body-size limit the server under test is given
MISSING = str(uuid.uuid4())


def dump(path: Path) -> list[str]:
    """Every row of the database, as SQL (a fresh connection sees all committed data)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return list(conn.iterdump())


class Client:
    """An HTTP client on the server that also knows its database file."""

    def __init__(self, url: str, db: Path) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.db = db

    def refused(
        self, method: str, path: str, *, status: int | tuple[int, ...] = 422, **kwargs: Any
    ) -> dict[str, Any]:
        """Send a bad request: it must get ``status`` with ``{"detail": ...}`` and change nothing."""
        before = dump(self.db)
        response = self.http.request(method, path, **kwargs)
        wanted = status if isinstance(status, tuple) else (status,)
        assert response.status_code in wanted, (method, path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), response.headers
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]
        assert dump(self.db) == before, f"{method} {path} changed the database"
        return body


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One server for the module (every request is checked to change nothing anyway)."""
    db = tmp_path_factory.mktemp("bad") / "bad.db"
    config = ServerConfig(base_dir=HERE, graphs=graph_specs(), max_body_bytes=LIMIT)
    with running(create_app(config, database=str(db), workers=4)) as url:
        c = Client(url, db)
        try:
            yield c
        finally:
            c.http.close()


@pytest.fixture
def thread_id(client: Client) -> str:
    """A thread that has run the counter once (so it has state, a run and an assistant)."""
    tid = client.http.post("/threads", json={"metadata": {"owner": "t"}}).json()["thread_id"]
    done = client.http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "counter", "input": {"n": 1}}
    )
    assert done.json() == {"n": 2}
    client.http.put("/store/items", json={"namespace": ["docs"], "key": "a", "value": {"n": 1}})
    return str(tid)


def _run_id(client: Client, tid: str) -> str:
    return str(client.http.get(f"/threads/{tid}/runs").json()[0]["run_id"])


# --- malformed bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/threads"),
        ("POST", "/threads/search"),
        ("POST", "/assistants"),
        ("POST", "/runs/wait"),
        ("POST", "/runs/stream"),
        ("PUT", "/store/items"),
        ("POST", "/store/items/search"),
        ("POST", "/store/namespaces"),
    ],
)
@pytest.mark.parametrize(
    "body", [b"{not json", b'{"a": 1', b"\xff\xfe\x00", b'"a string"', b"[1, 2]", b"nul"]
)
def test_malformed_or_non_object_bodies(
    client: Client, thread_id: str, method: str, path: str, body: bytes
) -> None:
    """Broken JSON, bytes that are not UTF-8, and JSON that is not an object: 422."""
    client.refused(method, path, content=body, headers={"content-type": "application/json"})


def test_malformed_bodies_on_thread_routes(client: Client, thread_id: str) -> None:
    """The routes under one thread read their bodies as strictly."""
    for method, path in [
        ("PATCH", f"/threads/{thread_id}"),
        ("POST", f"/threads/{thread_id}/state"),
        ("POST", f"/threads/{thread_id}/state/checkpoint"),
        ("POST", f"/threads/{thread_id}/history"),
        ("POST", f"/threads/{thread_id}/runs"),
        ("POST", f"/threads/{thread_id}/runs/wait"),
        ("POST", f"/threads/{thread_id}/runs/stream"),
    ]:
        client.refused(method, path, content=b"{oops")
        client.refused(method, path, content=b"[]")


# --- size limit ----------------------------------------------------------------------------


def test_body_over_the_size_limit(client: Client, thread_id: str) -> None:
    """A body over the limit gets 413, whether its length is declared or streamed."""
    big = {"namespace": ["docs"], "key": "big", "value": {"text": "x" * LIMIT}}
    client.refused("PUT", "/store/items", json=big, status=413)
    client.refused("POST", "/threads", json={"metadata": {"pad": "y" * LIMIT}}, status=413)
    client.refused(
        "POST",
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "counter", "input": {"n": 1, "pad": "z" * LIMIT}},
        status=413,
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        yield b'{"namespace": ["docs"], "key": "big", "value": {"text": "'
        for _ in range(LIMIT // 512 + 2):
            yield b"x" * 512
        yield b'"}}'

    client.refused("PUT", "/store/items", content=chunks(), status=413)
    # A body just under the limit is fine.
    ok = client.http.put(
        "/store/items", json={"namespace": ["docs"], "key": "small", "value": {"t": "x" * 100}}
    )
    assert ok.status_code == 204


# --- unknown ids ---------------------------------------------------------------------------


def test_unknown_graph_assistant_thread_and_run_ids(client: Client, thread_id: str) -> None:
    """Ids that name nothing get 404 (or 422 when they cannot be ids at all)."""
    run_id = _run_id(client, thread_id)
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/assistants", {"json": {"graph_id": "no_such_graph"}}),
        ("GET", f"/assistants/{MISSING}", {}),
        ("GET", "/assistants/no_such_graph", {}),
        ("PATCH", f"/assistants/{MISSING}", {"json": {"metadata": {"a": 1}}}),
        ("DELETE", f"/assistants/{MISSING}", {}),
        ("GET", f"/assistants/{MISSING}/schemas", {}),
        ("GET", f"/assistants/{MISSING}/graph", {}),
        ("POST", "/runs/wait", {"json": {"assistant_id": "no_such_graph", "input": {"n": 1}}}),
        ("POST", "/runs/stream", {"json": {"assistant_id": MISSING, "input": {"n": 1}}}),
        ("POST", "/runs", {"json": {"assistant_id": MISSING, "input": {"n": 1}}}),
        ("GET", f"/threads/{MISSING}", {}),
        ("GET", "/threads/not-a-uuid", {}),
        ("PATCH", f"/threads/{MISSING}", {"json": {"metadata": {"a": 1}}}),
        ("DELETE", f"/threads/{MISSING}", {}),
        ("POST", f"/threads/{MISSING}/copy", {}),
        ("GET", f"/threads/{MISSING}/state", {}),
        ("POST", f"/threads/{MISSING}/state", {"json": {"values": {"n": 1}}}),
        ("GET", f"/threads/{MISSING}/history", {}),
        ("GET", f"/threads/{MISSING}/runs", {}),
        (
            "POST",
            f"/threads/{MISSING}/runs/wait",
            {"json": {"assistant_id": "counter", "input": {"n": 1}}},
        ),
        (
            "POST",
            "/threads/not-a-uuid/runs",
            {"json": {"assistant_id": "counter", "input": {"n": 1}}},
        ),
        (
            "POST",
            f"/threads/{thread_id}/runs",
            {"json": {"assistant_id": "no_such_graph", "input": {"n": 1}}},
        ),
        ("GET", f"/threads/{thread_id}/runs/{MISSING}", {}),
        ("GET", f"/threads/{thread_id}/runs/not-a-run", {}),
        ("GET", f"/threads/{thread_id}/runs/{MISSING}/join", {}),
        ("GET", f"/threads/{thread_id}/runs/{MISSING}/stream", {}),
        ("POST", f"/threads/{thread_id}/runs/{MISSING}/cancel", {}),
        ("DELETE", f"/threads/{thread_id}/runs/{MISSING}", {}),
        # A real run id under the wrong thread is unknown there.
        ("GET", f"/threads/{MISSING}/runs/{run_id}", {}),
        ("POST", f"/threads/{MISSING}/runs/{run_id}/cancel", {}),
        ("GET", "/no/such/route", {}),
    ]
    for method, path, kwargs in cases:
        client.refused(method, path, status=(404, 422), **kwargs)


def test_unknown_checkpoint(client: Client, thread_id: str) -> None:
    """A checkpoint id the thread never had is not found, on every route that takes one."""
    client.refused("GET", f"/threads/{thread_id}/state/{MISSING}", status=(404, 422))
    client.refused(
        "POST",
        f"/threads/{thread_id}/state/checkpoint",
        json={"checkpoint": {"checkpoint_id": MISSING}},
        status=(404, 422),
    )
    client.refused(
        "POST",
        f"/threads/{thread_id}/state",
        json={"values": {"n": 5}, "checkpoint_id": MISSING},
        status=(404, 422),
    )
    client.refused(
        "POST",
        f"/threads/{thread_id}/runs/wait",
        json={"assistant_id": "counter", "input": {"n": 1}, "checkpoint_id": MISSING},
        status=(404, 422),
    )


# --- invalid namespaces, filters, TTLs, options ----------------------------------------------


@pytest.mark.parametrize(
    "namespace",
    [[], "docs", ["a.b"], ["a", ""], [1, 2], None, {"a": 1}, [["nested"]]],
    ids=repr,
)
def test_invalid_namespaces(client: Client, thread_id: str, namespace: Any) -> None:
    """Namespaces that are not non-empty lists of dot-free labels: 422 on every store route."""
    client.refused(
        "PUT", "/store/items", json={"namespace": namespace, "key": "k", "value": {"v": 1}}
    )
    client.refused("DELETE", "/store/items", json={"namespace": namespace, "key": "a"})
    if namespace not in ([], None):  # an empty prefix means "everything" for these two
        client.refused("POST", "/store/items/search", json={"namespace_prefix": namespace})
        client.refused("POST", "/store/namespaces", json={"prefix": namespace})
        client.refused("POST", "/store/namespaces", json={"suffix": namespace})


def test_reserved_namespace(client: Client, thread_id: str) -> None:
    """The server's own records are out of reach of the store routes: 403."""
    ns = [ROOT, "threads"]
    client.refused(
        "PUT", "/store/items", json={"namespace": ns, "key": thread_id, "value": {}}, status=403
    )
    client.refused("DELETE", "/store/items", json={"namespace": ns, "key": thread_id}, status=403)
    client.refused(
        "GET", "/store/items", params={"namespace": f"{ROOT}.threads", "key": thread_id}, status=403
    )
    client.refused("POST", "/store/items/search", json={"namespace_prefix": [ROOT]}, status=403)
    client.refused("POST", "/store/namespaces", json={"prefix": [ROOT]}, status=403)


def test_invalid_item_fields(client: Client, thread_id: str) -> None:
    """Keys, values and index settings of the wrong type: 422."""
    for body in [
        {"namespace": ["docs"], "value": {"v": 1}},
        {"namespace": ["docs"], "key": "", "value": {"v": 1}},
        {"namespace": ["docs"], "key": 5, "value": {"v": 1}},
        {"namespace": ["docs"], "key": "k"},
        {"namespace": ["docs"], "key": "k", "value": [1, 2]},
        {"namespace": ["docs"], "key": "k", "value": "text"},
        {"namespace": ["docs"], "key": "k", "value": {"v": 1}, "index": "text"},
        {"namespace": ["docs"], "key": "k", "value": {"v": 1}, "index": [1]},
    ]:
        client.refused("PUT", "/store/items", json=body)
    client.refused("GET", "/store/items", params={"namespace": "docs"})
    client.refused("GET", "/store/items", params={"namespace": "docs", "key": ""})
    client.refused("DELETE", "/store/items", json={"namespace": ["docs"]})


@pytest.mark.parametrize("ttl", [-1, 0, "5", True, [1], {"m": 1}, 1e20], ids=repr)
def test_invalid_ttls(client: Client, thread_id: str, ttl: Any) -> None:
    """A TTL must be a positive number of minutes."""
    client.refused(
        "PUT",
        "/store/items",
        json={"namespace": ["docs"], "key": "a", "value": {"n": 9}, "ttl": ttl},
    )


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"n": {"$bogus": 1}}},
        {"filter": {"n": {"$gt": [1, 2]}}},
        {"filter": {"$or": "nope"}},
        {"filter": "n=1"},
        {"filter": [1]},
        {"limit": -1},
        {"limit": "ten"},
        {"limit": 10**9},
        {"offset": -5},
        {"query": 12},
        {"query": "anything"},  # this store has no index: nothing to search by meaning
    ],
    ids=lambda b: json.dumps(b),
)
def test_invalid_search_requests(client: Client, thread_id: str, body: dict[str, Any]) -> None:
    """Filters with unknown operators or wrong shapes, and bad pages: 422."""
    client.refused("POST", "/store/items/search", json={"namespace_prefix": ["docs"], **body})


def test_invalid_thread_and_assistant_searches(client: Client, thread_id: str) -> None:
    """Thread and assistant searches check their filters, status and page."""
    for body in [
        {"metadata": "owner=t"},
        {"metadata": {"owner": {"$bogus": 1}}},
        {"values": [1]},
        {"status": "sleeping"},
        {"limit": 0.5},
        {"limit": -1},
        {"offset": "x"},
        {"ids": "one"},
        {"ids": [1]},
        {"sort_order": "sideways"},
    ]:
        client.refused("POST", "/threads/search", json=body)
    for body in [{"metadata": "x"}, {"status": 5}, {"values": "x"}]:
        client.refused("POST", "/threads/count", json=body)
    for body in [{"metadata": [1]}, {"graph_id": 5}, {"limit": -1}]:
        client.refused("POST", "/assistants/search", json=body)
    client.refused("GET", f"/threads/{thread_id}/runs", params={"limit": "x"})
    client.refused("GET", f"/threads/{thread_id}/runs", params={"limit": "0"})
    client.refused("GET", f"/threads/{thread_id}/runs", params={"status": "weird"})
    client.refused("POST", f"/threads/{thread_id}/history", json={"limit": 0})
    client.refused("POST", f"/threads/{thread_id}/history", json={"before": 5})


def test_invalid_thread_writes(client: Client, thread_id: str) -> None:
    """Creating or changing threads with wrong fields: 422, or 409 for a taken id."""
    client.refused("POST", "/threads", json={"thread_id": "not-a-uuid"})
    client.refused("POST", "/threads", json={"metadata": ["a"]})
    client.refused("POST", "/threads", json={"if_exists": "explode"})
    client.refused("POST", "/threads", json={"thread_id": thread_id}, status=409)
    client.refused("PATCH", f"/threads/{thread_id}", json={"metadata": "x"})
    client.refused(
        "POST", f"/threads/{thread_id}/state", json={"values": {"n": 1}, "as_node": "nope"}
    )
    client.refused("POST", f"/threads/{thread_id}/state", json={"values": {"nope": 1}})
    client.refused("POST", f"/threads/{thread_id}/state", json={"values": {"n": 1}, "as_node": 7})


@pytest.mark.parametrize(
    "extra",
    [
        {"stream_mode": "bogus"},
        {"stream_mode": ["values", "bogus"]},
        {"stream_mode": [1]},
        {"stream_mode": {"values": True}},
        {"multitask_strategy": "shove"},
        {"if_not_exists": "maybe"},
        {"on_completion": "forget"},
        {"on_disconnect": "explode"},
        {"durability": "forever"},
        {"interrupt_before": "inc"},
        {"interrupt_after": [1]},
        {"interrupt_before": ["no_such_node"]},
        {"config": "x"},
        {"config": {"configurable": "x"}},
        {"context": [1]},
        {"metadata": "x"},
        {"command": "resume"},
        {"command": {"resume": 1}, "input": {"n": 1}},
        {"checkpoint": "x"},
        {"assistant_id": 5},
        {"assistant_id": None},
    ],
    ids=lambda b: json.dumps(b),
)
def test_invalid_run_requests(client: Client, thread_id: str, extra: dict[str, Any]) -> None:
    """Wrong stream modes and run options: 422 before anything is recorded or run."""
    body = {"assistant_id": "counter", "input": {"n": 1}, **extra}
    for path in (
        f"/threads/{thread_id}/runs",
        f"/threads/{thread_id}/runs/wait",
        f"/threads/{thread_id}/runs/stream",
        "/runs/wait",
    ):
        client.refused("POST", path, json=body, status=(404, 422))


def test_invalid_cancel_and_method(client: Client, thread_id: str) -> None:
    """An unknown cancel action is 422; a method a route lacks is 405, both with JSON."""
    run_id = _run_id(client, thread_id)
    client.refused(
        "POST", f"/threads/{thread_id}/runs/{run_id}/cancel", params={"action": "explode"}
    )
    client.refused("PUT", f"/threads/{thread_id}", json={}, status=405)
    client.refused("DELETE", "/threads", status=405)


# --- a client that leaves mid-stream -------------------------------------------------------


def _stream_and_leave(url: str, tid: str, on_disconnect: str) -> str:
    """Start a slow streamed run, read its first event, and drop the connection."""
    body = {
        "assistant_id": "slow",
        "input": {"n": 300},
        "stream_mode": "updates",
        "on_disconnect": on_disconnect,
    }
    with (
        httpx.Client(base_url=url, timeout=30) as http,
        http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                return str(json.loads(line[5:])["run_id"])
    raise AssertionError("no metadata event")


def _final_status(http: httpx.Client, tid: str, run_id: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        status = http.get(f"/threads/{tid}/runs/{run_id}").json()["status"]
        if status not in ("pending", "running") or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.05)


def test_disconnect_mid_stream_cancels_when_asked(client: Client) -> None:
    """on_disconnect=cancel: the run stops when the client leaves; the thread is usable."""
    tid = client.http.post("/threads", json={}).json()["thread_id"]
    run_id = _stream_and_leave(str(client.http.base_url), tid, "cancel")
    assert _final_status(client.http, tid, run_id) == "interrupted"
    thread = client.http.get(f"/threads/{tid}").json()
    assert thread["status"] != "busy"
    after = client.http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "counter", "input": {"n": 1}}
    )
    assert after.json() == {"n": 2}


def test_disconnect_mid_stream_continues_by_default(client: Client) -> None:
    """on_disconnect=continue: the run goes on to the end without its client."""
    tid = client.http.post("/threads", json={}).json()["thread_id"]
    run_id = _stream_and_leave(str(client.http.base_url), tid, "continue")
    assert _final_status(client.http, tid, run_id) == "success"
    assert client.http.get(f"/threads/{tid}/state").json()["values"] == {"n": 303}


def test_disconnect_during_wait_cancels_when_asked(client: Client) -> None:
    """A ``wait`` whose client gives up is cancelled if it asked for that."""
    tid = client.http.post("/threads", json={}).json()["thread_id"]
    body = {"assistant_id": "slow", "input": {"n": 600}, "on_disconnect": "cancel"}
    with (
        httpx.Client(base_url=str(client.http.base_url), timeout=0.3) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.post(f"/threads/{tid}/runs/wait", json=body)
    run_id = _run_id(client, tid)
    assert _final_status(client.http, tid, run_id) == "interrupted"
    assert client.http.get(f"/threads/{tid}").json()["status"] != "busy"
