"""The memory-layer conformance suite on InMemoryStore and SqliteStore."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from threadloom.store.memory import InMemoryStore
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.memory_conformance import MemoryConformance


class TestInMemoryStore(MemoryConformance):
    @pytest.fixture
    def make_store(self) -> Callable[..., Any]:
        return lambda index=None, ttl=None: InMemoryStore(index=index, ttl=ttl)


class TestSqliteStore(MemoryConformance):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> Iterator[Callable[..., Any]]:
        stores: list[SqliteStore] = []
        numbers = itertools.count()

        def make(index: Any = None, ttl: Any = None) -> SqliteStore:
            store = SqliteStore(tmp_path / f"m{next(numbers)}.db", index=index, ttl=ttl)
            store.setup()
            stores.append(store)
            return store

        yield make
        for store in stores:
            store.close()
