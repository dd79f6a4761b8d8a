"""SqliteStore and AsyncSqliteStore pass the shared store conformance suites, search modes included."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from threadloom.store.base import IndexConfig, TTLConfig
from threadloom.store.sqlite import SqliteStore
from threadloom.store.sqlite.aio import AsyncSqliteStore
from threadloom.testing.store import SearchModeConformance, StoreConformance


class TestSqliteStore(StoreConformance, SearchModeConformance):
    """The conformance suite on a real SQLite file per store."""

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[Callable[..., Any]]:
        stores: list[SqliteStore] = []
        numbers = itertools.count()

        def make(index: IndexConfig | None = None, ttl: TTLConfig | None = None) -> SqliteStore:
            store = SqliteStore(tmp_path / f"store{next(numbers)}.db", index=index, ttl=ttl)
            store.setup()
            stores.append(store)
            return store

        yield make
        for store in stores:
            store.close()


class TestAsyncSqliteStore(StoreConformance, SearchModeConformance):
    """The conformance suite on the asyncio flavour."""

    async_store = True

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[Callable[..., Any]]:
        stores: list[AsyncSqliteStore] = []
        numbers = itertools.count()

        async def make(
            index: IndexConfig | None = None, ttl: TTLConfig | None = None
        ) -> AsyncSqliteStore:
            store = AsyncSqliteStore(tmp_path / f"store{next(numbers)}.db", index=index, ttl=ttl)
            await store.setup()
            stores.append(store)
            return store

        yield make
        for store in stores:
            store.store.close()
