"""The SQLite checkpointer for asyncio code: ``async with AsyncSqliteSaver.from_conn_string(...)``.

It is :class:`~threadloom.checkpoint.sqlite.SqliteSaver` (whose async methods
run the same SQLite code in a worker thread) with an async context manager
that opens, sets up and closes the file without blocking the event loop.

Example::

    import asyncio
    from threadloom.checkpoint.sqlite.aio import AsyncSqliteSaver

    async def main() -> None:
        async with AsyncSqliteSaver.from_conn_string(":memory:") as saver:
            assert await saver.aget_tuple({"configurable": {"thread_id": "1"}}) is None

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from threadloom._sqlite import Database
from threadloom.checkpoint.sqlite import SqliteSaver

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(SqliteSaver):
    """A :class:`SqliteSaver` opened from async code; use the ``a``-prefixed methods."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls,
        conn_string: str | os.PathLike[str],
        *,
        serde: Any = None,
        allow_foreign_tables: bool = False,
        turn_timeout: float = 120.0,
    ) -> AsyncIterator[AsyncSqliteSaver]:
        """Open ``conn_string`` (a path or ``":memory:"``), set it up, close it on exit.

        Raises the same errors as :meth:`SqliteSaver.from_conn_string`.
        """
        db = await asyncio.to_thread(
            lambda: Database.open(conn_string, allow_foreign_tables=allow_foreign_tables)
        )
        try:
            saver = cls(db, serde=serde, turn_timeout=turn_timeout)
            await saver.asetup()
            yield saver
        finally:
            await asyncio.to_thread(db.close)

    async def asetup(self) -> None:
        """Async twin of :meth:`setup`."""
        await asyncio.to_thread(self.setup)
