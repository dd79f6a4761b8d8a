"""A checkpointer on PostgreSQL: conversation threads shared by every host of an application.

Install with ``pip install 'threadloom[postgres]'``. Example (``dsn`` is a
``postgresql://user:password@host:port/db`` URL)::

    from threadloom.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()                      # once per database; safe to repeat
        config = {"configurable": {"thread_id": "1"}}
        assert saver.get_tuple(config) is None

Many hosts may work on one database. Two hosts taking turns on the *same*
thread at the same moment cannot both extend it: the second ``put`` raises
:class:`~threadloom.errors.CheckpointConflictError` (nothing is written), and
the caller re-reads the thread and retries the turn. See
:mod:`threadloom.checkpoint._common` for the exact rule (the same on every saver).

Retention: :meth:`PostgresSaver.delete_thread` and
``prune(thread_ids, strategy="keep_latest")``.
"""

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

    def __init__(self, conn: Any, *, serde: Any = None, turn_timeout: float = 120.0) -> None:
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
