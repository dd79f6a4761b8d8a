"""The memory-layer conformance suite on PostgresStore."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from threadloom.store.postgres import PostgresStore
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
