"""PostgresSaver and AsyncPostgresSaver pass the checkpointer conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver
from threadloom.testing.checkpoint import CheckpointerConformance


class TestPostgresSaver(CheckpointerConformance):
    """The sync saver on one connection."""

    @pytest.fixture
    def saver(self, pg_dsn: str) -> Iterator[PostgresSaver]:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            saver = PostgresSaver(conn)
            saver.setup()
            yield saver


class TestAsyncPostgresSaver(CheckpointerConformance):
    """The async saver on one async connection."""

    flavours = ("async",)

    @pytest.fixture
    async def saver(self, pg_dsn: str) -> AsyncIterator[AsyncPostgresSaver]:
        async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
            saver = AsyncPostgresSaver(conn)
            await saver.setup()
            yield saver
