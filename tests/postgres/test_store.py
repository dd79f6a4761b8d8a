"""PostgresStore and AsyncPostgresStore pass the store conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import Any

import psycopg
import pytest

from threadloom.store.postgres import PostgresStore
from threadloom.store.postgres.aio import AsyncPostgresStore
from threadloom.testing.store import SearchModeConformance, StoreConformance


class TestPostgresStore(StoreConformance, SearchModeConformance):
    """The sync store on one connection."""

    @pytest.fixture
    def make_store(self, pg_dsn: str) -> Iterator[Callable[..., Any]]:
        with ExitStack() as stack:

            def make(index: Any = None, ttl: Any = None) -> PostgresStore:
                conn = stack.enter_context(psycopg.connect(pg_dsn, autocommit=True))
                store = PostgresStore(conn, index=index, ttl=ttl)
                store.setup()
                return store

            yield make


class TestAsyncPostgresStore(StoreConformance, SearchModeConformance):
    """The async store on one async connection (sync methods called from a worker thread)."""

    async_store = True

    @pytest.fixture
    async def make_store(self, pg_dsn: str) -> AsyncIterator[Callable[..., Any]]:
        async with AsyncExitStack() as stack:

            async def make(index: Any = None, ttl: Any = None) -> AsyncPostgresStore:
                conn = await stack.enter_async_context(
                    await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True)
                )
                store = AsyncPostgresStore(conn, index=index, ttl=ttl)
                await store.setup()
                return store

            yield make
