"""Node and task caching with the in-memory and SQLite caches."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.cache.base import BaseCache
from threadloom.cache.memory import InMemoryCache
from threadloom.cache.sqlite import SqliteCache
from threadloom.func import entrypoint, task
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import CachePolicy


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCache]:
    if request.param == "memory":
        yield InMemoryCache()
        return
    with SqliteCache(tmp_path / "cache.sqlite") as sqlite_cache:
        yield sqlite_cache


class State(TypedDict):
    x: int


def test_entries_expire_and_clear(cache: BaseCache) -> None:
    """``get`` never returns an expired entry; ``clear`` drops whole namespaces."""
    cache.set({(("a",), "k"): ({"v": [1]}, None), (("b",), "k"): (2, 0.05)})
    assert cache.get([(("a",), "k"), (("b",), "k")]) == {
        (("a",), "k"): {"v": [1]},
        (("b",), "k"): 2,
    }
    time.sleep(0.08)
    assert cache.get([(("b",), "k")]) == {}
    cache.clear([("a",)])
    assert cache.get([(("a",), "k")]) == {}


async def test_a_cached_node_runs_once_per_input(client: GraphClient, cache: BaseCache) -> None:
    """Same input: the cached writes are reused (and the update says so); clear_cache forgets."""
    calls: list[int] = []

    def double(state: State) -> State:
        calls.append(state["x"])
        return {"x": state["x"] * 2}

    builder = StateGraph(State)
    builder.add_node("double", double, cache_policy=CachePolicy())
    builder.add_edge(START, "double")
    graph = builder.compile(cache=cache)
    assert await client.invoke(graph, {"x": 2}) == {"x": 4}
    assert await client.stream(graph, {"x": 2}) == [
        {"double": {"x": 4}, "__metadata__": {"cached": True}}
    ]
    assert await client.invoke(graph, {"x": 3}) == {"x": 6}
    assert calls == [2, 3]
    graph.clear_cache()
    await client.invoke(graph, {"x": 2})
    assert calls == [2, 3, 2]


async def test_cached_tasks_and_key_func(client: GraphClient, cache: BaseCache) -> None:
    """A task with a cache policy runs once per key; ``key_func`` chooses what the key is."""
    calls: list[Any] = []

    @task(cache_policy=CachePolicy(key_func=lambda text: text.lower()))
    def shout(text: str) -> str:
        calls.append(text)
        return text.upper()

    @entrypoint(cache=cache)
    def flow(words: list[str]) -> list[str]:
        return [shout(w).result() for w in words]

    assert await client.invoke(flow, ["hi", "HI", "yo"]) == ["HI", "HI", "YO"]
    assert calls == ["hi", "yo"]
    shout.clear_cache(cache)
    await client.invoke(flow, ["hi"])
    assert calls == ["hi", "yo", "hi"]


def test_without_a_cache_the_policy_does_nothing() -> None:
    """A node with a cache policy in a graph compiled without a cache runs every time."""
    calls: list[int] = []
    builder = StateGraph(State)
    builder.add_node("n", lambda s: calls.append(1) or {"x": 1}, cache_policy=CachePolicy())
    builder.add_edge(START, "n")
    graph = builder.compile()
    graph.invoke({"x": 0})
    graph.invoke({"x": 0})
    assert len(calls) == 2


def test_a_sqlite_cache_closes_the_connection_it_opened_but_not_a_callers(tmp_path: Path) -> None:
    """``close()`` closes a path-opened cache's connection; a caller's connection stays usable."""
    with SqliteCache(tmp_path / "own.sqlite") as owned:
        owned.set({(("a",), "k"): (1, None)})
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        owned.conn.execute("SELECT 1")
    conn = sqlite3.connect(tmp_path / "theirs.sqlite", check_same_thread=False)
    try:
        with SqliteCache(conn) as borrowed:
            borrowed.set({(("a",), "k"): (2, None)})
        assert conn.execute("SELECT count(*) FROM threadloom_cache").fetchone() == (1,)
    finally:
        conn.close()
