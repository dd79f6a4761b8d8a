"""PostgresSaver and AsyncPostgresSaver pass the checkpointer conformance suite, processes included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any

import psycopg
import pytest

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver
from threadloom.testing.checkpoint import SharedCheckpointerConformance


class TestPostgresSaver(SharedCheckpointerConformance):
    """The sync saver on one connection."""

    @pytest.fixture
    def saver(self, pg_dsn: str) -> Iterator[PostgresSaver]:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            saver = PostgresSaver(conn)
            saver.setup()
            yield saver

    @pytest.fixture
    def saver_opener(self, pg_dsn: str) -> Callable[[], Any]:
        return partial(PostgresSaver.from_conn_string, pg_dsn)


class TestAsyncPostgresSaver(SharedCheckpointerConformance):
    """The async saver on one async connection."""

    flavours = ("async",)

    @pytest.fixture
    async def saver(self, pg_dsn: str) -> AsyncIterator[AsyncPostgresSaver]:
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
            saver = AsyncPostgresSaver(conn)
            await saver.setup()
            yield saver

    @pytest.fixture
    def saver_opener(self, pg_dsn: str) -> Callable[[], Any]:
        return partial(AsyncPostgresSaver.from_conn_string, pg_dsn)
