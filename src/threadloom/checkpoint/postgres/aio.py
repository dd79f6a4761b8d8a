"""The async PostgreSQL checkpointer: the same tables and rules as :class:`PostgresSaver`.

Example (``dsn`` is a ``postgresql://user:password@host:port/db`` URL)::

    from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver

    async with AsyncPostgresSaver.from_conn_string(dsn) as saver:
        await saver.setup()
        assert await saver.aget_tuple({"configurable": {"thread_id": "1"}}) is None
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from threadloom._postgres import AsyncConn, Plan, aopen_connection, aopen_pool
from threadloom.checkpoint.postgres._core import PostgresSaverCore
from threadloom.checkpoint.postgres._shallow import KeepsLatest

__all__ = ["AsyncPostgresSaver", "AsyncShallowPostgresSaver"]

T = TypeVar("T")


class AsyncPostgresSaver(PostgresSaverCore):
    """Checkpointer on a ``psycopg.AsyncConnection`` (``autocommit=True``) or an
    ``AsyncConnectionPool``. Its sync methods work from threads other than the
    event loop's (while the loop runs); ``setup`` is a coroutine here.
    """

    def __init__(
        self, conn: Any, pipe: Any = None, *, serde: Any = None, turn_timeout: float = 120.0
    ) -> None:
        # pipe: as in PostgresSaver, the pipeline open on ``conn``.
        super().__init__(serde=serde, turn_timeout=turn_timeout)
        self._conn = AsyncConn(conn)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str,
        *,
        pool_size: int | None = None,
        serde: Any = None,
        turn_timeout: float = 120.0,
    ) -> AsyncIterator[AsyncPostgresSaver]:
        """A saver on a new async connection (or pool), closed on exit."""
        async with contextlib.AsyncExitStack() as stack:
            if pool_size:
                source: Any = await stack.enter_async_context(
                    await aopen_pool(conn_string, max_size=pool_size)
                )
            else:
                source = await stack.enter_async_context(await aopen_connection(conn_string))
            yield cls(source, serde=serde, turn_timeout=turn_timeout)

    async def setup(self) -> None:  # type: ignore[override]  # a coroutine on the async saver
        """Create or upgrade the tables (a coroutine here)."""
        await self.asetup()

    async def _arun(self, plan: Plan[T]) -> T:
        self._loop = asyncio.get_running_loop()
        return await self._conn.run(plan)

    def _run(self, plan: Plan[T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "AsyncPostgresSaver's sync methods cannot run inside its event loop; "
                "use the async ones (aget_tuple, aput, ...)"
            )
        if self._loop is None or not self._loop.is_running():
            raise RuntimeError(
                "AsyncPostgresSaver's sync methods need its event loop running in another thread"
            )
        return asyncio.run_coroutine_threadsafe(self._conn.run(plan), self._loop).result()


class AsyncShallowPostgresSaver(KeepsLatest, AsyncPostgresSaver):
    """An :class:`AsyncPostgresSaver` that keeps only the latest checkpoint of each thread
    (deprecated, as in LangGraph: see :mod:`threadloom.checkpoint.postgres.shallow`)."""
