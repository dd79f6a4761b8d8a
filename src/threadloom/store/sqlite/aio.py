"""The SQLite store for asyncio code: the same store, its blocking work in a thread.

Example::

    from threadloom.store.sqlite.aio import AsyncSqliteStore

    async with AsyncSqliteStore.from_conn_string("memories.db") as store:
        await store.setup()
        await store.aput(("memories", "1"), "a", {"data": "User likes pizza"})
        item = await store.aget(("memories", "1"), "a")
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from threadloom.store.base import (
    SEARCH_MODES,
    BaseStore,
    IndexConfig,
    Op,
    Result,
    StoredItem,
    TTLConfig,
    run_in_thread,
)
from threadloom.store.sqlite._store import SqliteStore

__all__ = ["AsyncSqliteStore"]


class AsyncSqliteStore(BaseStore):
    """A :class:`~threadloom.store.sqlite.SqliteStore` with awaitable setup, sweep and close.

    Every ``a``-method (``aput``, ``asearch``, ...) runs SQLite and numpy work
    in a worker thread and embeds with the embedder's async API; the sync
    methods work too and block as usual.
    """

    supports_ttl = True
    supported_search_modes = SEARCH_MODES

    def __init__(
        self,
        conn: sqlite3.Connection | str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        allow_foreign_tables: bool = False,
    ) -> None:
        self.store = SqliteStore(
            conn, index=index, ttl=ttl, allow_foreign_tables=allow_foreign_tables
        )
        self.ttl_config = self.store.ttl_config
        self.index_config = self.store.index_config

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        allow_foreign_tables: bool = False,
    ) -> AsyncIterator[AsyncSqliteStore]:
        """Open a store on a file path (or ``":memory:"``) and close it on exit."""
        store: AsyncSqliteStore = await run_in_thread(
            lambda: cls(
                conn_string, index=index, ttl=ttl, allow_foreign_tables=allow_foreign_tables
            )
        )
        try:
            yield store
        finally:
            await store.aclose()

    async def setup(self) -> None:
        """Create or upgrade the tables (see :meth:`SqliteStore.setup`)."""
        await run_in_thread(self.store.setup)

    async def verify(self) -> None:
        """Read every page of the file (see :meth:`SqliteStore.verify`)."""
        await run_in_thread(self.store.verify)

    async def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        return int(await run_in_thread(self.store.sweep_ttl))

    async def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Start the sweeper thread (see :meth:`SqliteStore.start_ttl_sweeper`); awaited, as
        LangGraph's async store and :class:`~threadloom.store.postgres.aio.AsyncPostgresStore`."""
        self.store.start_ttl_sweeper(sweep_interval_minutes)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread without blocking the event loop; whether it stopped in time."""
        return bool(await run_in_thread(self.store.stop_ttl_sweeper, timeout))

    async def aclose(self) -> None:
        """Stop the sweeper and close the connection."""
        await run_in_thread(self.store.close)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` on the underlying store (blocking)."""
        return self.store.batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` without blocking the event loop."""
        return await self.store.abatch(ops)

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix`` (see :meth:`SqliteStore.dump_items`)."""
        return self.store.dump_items(namespace_prefix, vectors=vectors)

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items as they were (see :meth:`SqliteStore.load_items`)."""
        return self.store.load_items(items)

    def __getattr__(self, name: str) -> Any:
        # sweep settings, verify_on_open, ...: the sync store's extras.
        if name == "store":
            raise AttributeError(name)
        return getattr(self.store, name)
