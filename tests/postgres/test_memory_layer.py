"""The memory-layer conformance suite on PostgresStore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
from langchain_core.runnables import RunnableConfig

from threadloom.memory import create_memory_store_manager
from threadloom.memory.reflection import ReflectionExecutor
from threadloom.store.postgres import PostgresStore
from threadloom.testing.memory import ScriptedMemoryModel, insert, turn
from threadloom.testing.memory_conformance import MemoryConformance


class TestPostgresStore(MemoryConformance):
    @pytest.fixture
    def make_store(self, pg_dsn: str) -> Iterator[Callable[..., Any]]:
        with ExitStack() as stack:

            def make(index: Any = None, ttl: Any = None) -> PostgresStore:
                conn = stack.enter_context(psycopg.connect(pg_dsn, autocommit=True))
                store = PostgresStore(conn, index=index, ttl=ttl)
                store.setup()
                return store

            yield make


def test_pending_reflection_waits_in_the_database(pg_dsn: str) -> None:
    """A job submitted on one connection is done by an executor on another connection."""
    model = ScriptedMemoryModel(script=[turn(insert("User lives in Paris"))])
    manager = create_memory_store_manager(model)
    config: RunnableConfig = {"configurable": {"user_id": "u1", "thread_id": "t1"}}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn)
        store.setup()
        ReflectionExecutor(manager, store=store, delay=0.1, start=False).submit(
            {"messages": [("user", "I live in Paris")]}, config
        )
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn)
        with ReflectionExecutor(manager, store=store, poll_interval=0.05) as executor:
            assert executor.wait_idle(timeout=10)
        values = [item.value["content"] for item in store.search(("memories", "u1"))]
    assert values == ["User lives in Paris"]
