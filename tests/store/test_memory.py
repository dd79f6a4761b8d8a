"""InMemoryStore: the shared conformance suite, plus what only the memory store promises."""

from __future__ import annotations

from typing import Any

import pytest

from threadloom.store.base import IndexConfig, TTLConfig
from threadloom.store.memory import InMemoryStore
from threadloom.testing.store import StoreConformance


class TestInMemoryStore(StoreConformance):
    @pytest.fixture
    def make_store(self) -> Any:
        def factory(
            index: IndexConfig | None = None, ttl: TTLConfig | None = None
        ) -> InMemoryStore:
            return InMemoryStore(index=index, ttl=ttl)

        return factory
