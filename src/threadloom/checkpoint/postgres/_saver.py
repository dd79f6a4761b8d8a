"""The sync :class:`PostgresSaver`: its connection or pool; the plans run there (``_core``, ``_plans``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from threadloom._postgres import Conn, Plan, open_connection, open_pool
from threadloom.checkpoint.postgres._core import PostgresSaverCore

__all__ = ["PostgresSaver"]

T = TypeVar("T")


class PostgresSaver(PostgresSaverCore):
    """Checkpointer on a ``psycopg.Connection`` (``autocommit=True``, used under a lock)
    or a ``psycopg_pool.ConnectionPool``; async methods run the same work in a thread.
    """

    def __init__(
        self, conn: Any, pipe: Any = None, *, serde: Any = None, turn_timeout: float = 120.0
    ) -> None:
        # pipe: the psycopg Pipeline open on ``conn`` (LangGraph's argument); statements sent
        # on ``conn`` go through it, and reading a result syncs it.
        super().__init__(serde=serde, turn_timeout=turn_timeout)
        self._conn = Conn(conn)

    @classmethod
    @contextlib.contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        pool_size: int | None = None,
        serde: Any = None,
        turn_timeout: float = 120.0,
    ) -> Iterator[PostgresSaver]:
        """A saver on a new connection (or a pool of ``pool_size``), closed on exit."""
        with contextlib.ExitStack() as stack:
            if pool_size:
                source: Any = stack.enter_context(open_pool(conn_string, max_size=pool_size))
            else:
                source = stack.enter_context(open_connection(conn_string))
            yield cls(source, serde=serde, turn_timeout=turn_timeout)

    def _run(self, plan: Plan[T]) -> T:
        return self._conn.run(plan)

    async def _arun(self, plan: Plan[T]) -> T:
        return await asyncio.to_thread(self._conn.run, plan)
