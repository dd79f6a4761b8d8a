"""What the official client does against a live server: one function per area, any backend.

tests/server runs them on SQLite, tests/postgres on PostgreSQL.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError


def _events(parts: Any) -> list[tuple[str, Any]]:
    return [(p.event, p.data) for p in parts]


def assistants_and_threads(url: str) -> None:
    """Assistants per graph, created ones; thread create/get/patch/search/count/copy/delete."""
    with get_sync_client(url=url) as client:
        found = client.assistants.search(graph_id="counter")
        assert [a["graph_id"] for a in found] == ["counter"]
        by_graph = client.assistants.get("counter")
        assert by_graph["assistant_id"] == found[0]["assistant_id"]
        mine = client.assistants.create(
            "counter", config={"tags": ["x"]}, context={"k": 1}, name="mine"
        )
        assert client.assistants.get(mine["assistant_id"])["name"] == "mine"
        patched = client.assistants.update(mine["assistant_id"], metadata={"team": "a"})
        assert patched["metadata"]["team"] == "a" and patched["version"] == 2
        assert (
            client.assistants.search(metadata={"team": "a"})[0]["assistant_id"]
            == mine["assistant_id"]
        )
        assert "input_schema" in client.assistants.get_schemas(mine["assistant_id"])
        client.assistants.delete(mine["assistant_id"])
        with pytest.raises(NotFoundError):
            client.assistants.get(mine["assistant_id"])

        thread = client.threads.create(metadata={"user": "u1", "topic": "t"})
        tid = thread["thread_id"]
        assert client.threads.get(tid)["metadata"]["user"] == "u1"
        with pytest.raises(ConflictError):
            client.threads.create(thread_id=tid)
        assert client.threads.create(thread_id=tid, if_exists="do_nothing")["thread_id"] == tid
        client.threads.update(tid, metadata={"topic": "u"})
        assert client.threads.get(tid)["metadata"] == {"user": "u1", "topic": "u"}
        other = client.threads.create(metadata={"user": "u2"})
        assert [t["thread_id"] for t in client.threads.search(metadata={"user": "u1"})] == [tid]
        assert client.threads.count(metadata={"user": "u2"}) == 1
        assert {t["thread_id"] for t in client.threads.search(status="idle", limit=100)} >= {
            tid,
            other["thread_id"],
        }

        client.runs.wait(tid, "counter", input={"n": 1})
        copy = client.threads.copy(tid)
        assert copy["thread_id"] != tid
        assert client.threads.get_state(copy["thread_id"])["values"] == {"n": 2}
        client.threads.delete(tid)
        with pytest.raises(NotFoundError):
            client.threads.get(tid)
        assert client.threads.get_state(copy["thread_id"])["values"] == {"n": 2}


def state_and_history(url: str) -> None:
    """State get/post (update_state, as_node), history, state at a checkpoint."""
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        assert client.runs.wait(tid, "counter", input={"n": 1}) == {"n": 2}
        state = client.threads.get_state(tid)
        assert state["values"] == {"n": 2} and state["next"] == []
        first = state["checkpoint"]["checkpoint_id"]
        client.threads.update_state(tid, {"n": 40}, as_node="inc")
        assert client.threads.get_state(tid)["values"] == {"n": 40}
        history = client.threads.get_history(tid, limit=10)
        assert [h["values"] for h in history][:2] == [{"n": 40}, {"n": 2}]
        assert client.threads.get_state(tid, checkpoint_id=first)["values"] == {"n": 2}
        assert client.threads.get(tid)["values"] == {"n": 40}


def runs(url: str) -> None:
    """Background runs, join, list, get, wait, stateless runs, errors, delete."""
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        run = client.runs.create(tid, "counter", input={"n": 5})
        assert client.runs.join(tid, run["run_id"]) == {"n": 6}
        assert client.runs.get(tid, run["run_id"])["status"] == "success"
        assert [r["run_id"] for r in client.runs.list(tid)] == [run["run_id"]]
        assert client.runs.wait(None, "counter", input={"n": 0}) == {"n": 1}
        streamed = _events(client.runs.stream(None, "counter", input={"n": 3}))
        assert streamed[-1] == ("values", {"n": 4})
        failed = client.runs.wait(tid, "failing", input={"n": 1}, raise_error=False)
        assert failed["__error__"]["error"] == "RuntimeError"
        assert client.threads.get(tid)["status"] == "error"
        client.runs.delete(tid, run["run_id"])
        with pytest.raises(NotFoundError):
            client.runs.get(tid, run["run_id"])
        created = client.runs.wait(
            "7b0a8d1e-0000-4000-8000-000000000001",
            "counter",
            input={"n": 1},
            if_not_exists="create",
        )
        assert created == {"n": 2}


def stream_modes(url: str) -> None:
    """values, updates, custom, debug, messages-tuple and subgraphs over SSE."""
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        events = _events(
            client.runs.stream(
                tid, "two_steps", input={"n": 1}, stream_mode=["values", "updates", "custom"]
            )
        )
        assert events[0][0] == "metadata"
        assert ("updates", {"inc": {"n": 2}}) in events
        assert ("updates", {"times": {"n": 20}}) in events
        assert ("custom", {"progress": 2}) in events
        assert [d for e, d in events if e == "values"][-1] == {"n": 20}
        debug = _events(client.runs.stream(tid, "counter", input={"n": 1}, stream_mode="debug"))
        assert {d["type"] for e, d in debug if e == "debug"} >= {
            "checkpoint",
            "task",
            "task_result",
        }
        chat = _events(
            client.runs.stream(
                None,
                "chat",
                input={"messages": [{"role": "user", "content": "hi"}]},
                stream_mode="messages-tuple",
            )
        )
        messages = [d for e, d in chat if e == "messages"]
        assert messages and "".join(m[0]["content"] for m in messages) == "hello there"
        assert messages[0][1]["langgraph_node"] == "chat"
        sub = _events(
            client.runs.stream(
                None, "parent", input={"n": 1}, stream_mode="updates", stream_subgraphs=True
            )
        )
        names = [e for e, _ in sub]
        assert "updates" in names and any(e.startswith("updates|child:") for e in names)


def interrupts_and_resume(url: str) -> None:
    """interrupt() and interrupt_before pause the thread; a Command resumes it."""
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        out = client.runs.wait(tid, "asker", input={"n": 1})
        assert out["__interrupt__"][0]["value"] == {"question": "how many?", "n": 1}
        thread = client.threads.get(tid)
        assert thread["status"] == "interrupted" and thread["interrupts"]
        assert client.runs.wait(tid, "asker", command={"resume": 5}) == {"n": 6}
        assert client.threads.get(tid)["status"] == "idle"
        tid = client.threads.create()["thread_id"]
        client.runs.wait(tid, "two_steps", input={"n": 1}, interrupt_before=["times"])
        assert client.threads.get_state(tid)["next"] == ["times"]
        assert client.threads.get(tid)["status"] == "interrupted"
        assert client.runs.wait(tid, "two_steps", input=None) == {"n": 20}


def multitask(url: str) -> None:
    """reject, interrupt, rollback and enqueue on a busy thread; cancel."""
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        first = client.runs.create(tid, "slow", input={"n": 300})
        _wait_status(client, tid, first["run_id"], "running")
        with pytest.raises(ConflictError):
            client.runs.create(tid, "counter", input={"n": 1}, multitask_strategy="reject")
        queued = client.runs.create(tid, "slow", input={"n": 1}, multitask_strategy="enqueue")
        assert client.runs.join(tid, queued["run_id"]) == {"n": 4}
        assert client.runs.get(tid, first["run_id"])["status"] == "success"

        running = client.runs.create(tid, "slow", input={"n": 300})
        _wait_status(client, tid, running["run_id"], "running")
        newer = client.runs.create(tid, "counter", input={"n": 7}, multitask_strategy="interrupt")
        assert client.runs.join(tid, newer["run_id"]) == {"n": 8}
        assert client.runs.get(tid, running["run_id"])["status"] == "interrupted"

        tid = client.threads.create()["thread_id"]
        client.runs.wait(tid, "counter", input={"n": 100})
        doomed = client.runs.create(tid, "slow", input={"n": 300})
        _wait_status(client, tid, doomed["run_id"], "running")
        client.runs.create(tid, "counter", input=None, multitask_strategy="rollback")
        time.sleep(0.1)
        last = client.runs.list(tid)[0]
        client.runs.join(tid, last["run_id"])
        with pytest.raises(NotFoundError):
            client.runs.get(tid, doomed["run_id"])
        # The doomed run's steps are undone: the thread is back where the counter left it.
        assert client.threads.get_state(tid)["values"]["n"] == 101

        cancelled = client.runs.create(tid, "slow", input={"n": 300})
        _wait_status(client, tid, cancelled["run_id"], "running")
        client.runs.cancel(tid, cancelled["run_id"], wait=True)
        assert client.runs.get(tid, cancelled["run_id"])["status"] == "interrupted"


def _wait_status(client: Any, tid: str, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while client.runs.get(tid, run_id)["status"] != status:
        assert time.monotonic() < deadline, f"run never reached {status}"
        time.sleep(0.02)


def store(url: str) -> None:
    """Items: put/get/delete/search with filters and TTL; namespaces listed."""
    with get_sync_client(url=url) as client:
        client.store.put_item(["users", "u1"], "a", {"kind": "pref", "n": 1})
        client.store.put_item(["users", "u1"], "b", {"kind": "fact", "n": 2}, ttl=5)
        client.store.put_item(["users", "u2"], "a", {"kind": "pref", "n": 3}, index=False)
        item = client.store.get_item(["users", "u1"], "a")
        assert item["value"] == {"kind": "pref", "n": 1} and item["namespace"] == ["users", "u1"]
        assert client.store.get_item(["users", "u1"], "missing") is None
        found = client.store.search_items(["users"], filter={"kind": "pref"}, limit=10)
        assert sorted(i["value"]["n"] for i in found["items"]) == [1, 3]
        assert len(client.store.search_items(["users"], limit=1, offset=1)["items"]) == 1
        spaces = client.store.list_namespaces(prefix=["users"])["namespaces"]
        assert spaces == [["users", "u1"], ["users", "u2"]]
        assert client.store.list_namespaces(max_depth=1)["namespaces"] == [["users"]]
        client.store.delete_item(["users", "u1"], "a")
        assert client.store.get_item(["users", "u1"], "a") is None
        # The server's own records never show through the store routes.
        client.threads.create()
        assert all(ns[0] == "users" for ns in client.store.list_namespaces()["namespaces"])
        assert all(
            i["namespace"][0] == "users" for i in client.store.search_items([], limit=100)["items"]
        )


async def async_client(url: str) -> None:
    """The async client over the same routes: thread, run, stream, join, store, info."""
    async with get_client(url=url) as client:
        thread = await client.threads.create(metadata={"who": "async"})
        tid = thread["thread_id"]
        assert await client.runs.wait(tid, "counter", input={"n": 1}) == {"n": 2}
        parts = [
            p
            async for p in client.runs.stream(tid, "counter", input={"n": 2}, stream_mode="updates")
        ]
        assert [(p.event, p.data) for p in parts][1:] == [("updates", {"inc": {"n": 3}})]
        run = await client.runs.create(tid, "counter", input={"n": 9})
        assert await client.runs.join(tid, run["run_id"]) == {"n": 10}
        assert (await client.threads.get_state(tid))["values"] == {"n": 10}
        await client.store.put_item(["a"], "k", {"v": 1})
        assert (await client.store.get_item(["a"], "k"))["value"] == {"v": 1}
        assert (await client.threads.search(metadata={"who": "async"}))[0]["thread_id"] == tid
        assert (await client.http.get("/ok")) == {"ok": True}
        assert "counter" in (await client.http.get("/info"))["graphs"]


SYNC_SCENARIOS = [
    assistants_and_threads,
    state_and_history,
    runs,
    stream_modes,
    interrupts_and_resume,
    multitask,
    store,
]
