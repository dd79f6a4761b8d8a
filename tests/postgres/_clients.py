"""The four PostgreSQL classes behind one small async interface, for the connection-fault tests.

A client writes numbered records and reads back the numbers it finds: the store
puts one item per number; a saver runs one graph turn per number, whose input
is that number. Sync classes are called directly, async ones awaited.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver
from threadloom.graph import START, StateGraph
from threadloom.store.postgres import PostgresStore
from threadloom.store.postgres.aio import AsyncPostgresStore
from threadloom.testing.embeddings import HashingEmbed

CLASSES = ("PostgresSaver", "AsyncPostgresSaver", "PostgresStore", "AsyncPostgresStore")
#: How the caller hands over the connection: a connection string (``from_conn_string``,
#: ``"pool"`` with ``pool_size``), a psycopg_pool pool of its own, or its own connection.
SOURCES = ("dsn", "pool", "userpool", "given")

NAMESPACE = ("faults",)
CONFIG: Any = {"configurable": {"thread_id": "faults"}}


class Turns(TypedDict):
    n: Annotated[list[int], operator.add]


def _graph(saver: Any) -> Any:
    builder = StateGraph(Turns)
    builder.add_node("echo", lambda state: {"n": [-state["n"][-1]]})
    builder.add_edge(START, "echo")
    return builder.compile(checkpointer=saver)


@dataclass
class Client:
    """One of the four classes on one connection source."""

    write: Callable[[int], Awaitable[None]]
    read: Callable[[], Awaitable[list[int]]]
    target: Any


def _store_client(store: Any, is_async: bool) -> Client:
    async def write(i: int) -> None:
        if is_async:
            await store.aput(NAMESPACE, f"k{i}", {"i": i, "text": f"note {i}"})
        else:
            store.put(NAMESPACE, f"k{i}", {"i": i, "text": f"note {i}"})

    async def read() -> list[int]:
        hits = (
            await store.asearch(NAMESPACE, limit=10_000)
            if is_async
            else store.search(NAMESPACE, limit=10_000)
        )
        return sorted(hit.value["i"] for hit in hits)

    return Client(write, read, store)


def _saver_client(saver: Any, is_async: bool) -> Client:
    graph = _graph(saver)

    async def write(i: int) -> None:
        if is_async:
            await graph.ainvoke({"n": [i]}, CONFIG)
        else:
            graph.invoke({"n": [i]}, CONFIG)

    async def read() -> list[int]:
        state = await graph.aget_state(CONFIG) if is_async else graph.get_state(CONFIG)
        return sorted(n for n in state.values.get("n", []) if n > 0)

    return Client(write, read, saver)


#: A store with a vector index writes each put in several statements (items, texts, vectors).
INDEX: Any = {"dims": 16, "embed": HashingEmbed(16), "fields": ["text"]}


@contextlib.asynccontextmanager
async def open_client(name: str, source: str, dsn: str) -> AsyncIterator[Client]:
    """``name`` (one of :data:`CLASSES`) on ``source`` (one of :data:`SOURCES`), set up."""
    is_async = name.startswith("Async")
    is_store = name.endswith("Store")
    cls: Any = {
        "PostgresSaver": PostgresSaver,
        "AsyncPostgresSaver": AsyncPostgresSaver,
        "PostgresStore": PostgresStore,
        "AsyncPostgresStore": AsyncPostgresStore,
    }[name]
    options: dict[str, Any] = {"index": INDEX} if is_store else {}
    async with contextlib.AsyncExitStack() as stack:
        if source == "given":
            conn: Any = (
                await stack.enter_async_context(
                    await psycopg.AsyncConnection.connect(dsn, autocommit=True)
                )
                if is_async
                else stack.enter_context(psycopg.connect(dsn, autocommit=True))
            )
            target = cls(conn, **options)
        elif source == "userpool":
            kwargs = {"autocommit": True}
            if is_async:
                apool = AsyncConnectionPool(dsn, min_size=1, max_size=2, kwargs=kwargs, open=False)
                await apool.open(wait=True)
                stack.push_async_callback(apool.close)
                target = cls(apool, **options)
            else:
                pool = stack.enter_context(
                    ConnectionPool(dsn, min_size=1, max_size=2, kwargs=kwargs)
                )
                target = cls(pool, **options)
        else:
            size = {"pool_size": 2} if source == "pool" else {}
            opened = cls.from_conn_string(dsn, **options, **size)
            target = (
                await stack.enter_async_context(opened) if is_async else stack.enter_context(opened)
            )
        if is_async:
            await target.setup()
        else:
            target.setup()
        yield _store_client(target, is_async) if is_store else _saver_client(target, is_async)
