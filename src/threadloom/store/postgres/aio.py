"""The async PostgreSQL store: the same tables and SQL as :class:`PostgresStore`.

Example (``dsn`` is a ``postgresql://user:password@host:port/db`` URL)::

    from threadloom.store.postgres.aio import AsyncPostgresStore

    async with AsyncPostgresStore.from_conn_string(dsn) as store:
        await store.setup()
        await store.aput(("memories", "1"), "a", {"text": "User likes pizza"})
        item = await store.aget(("memories", "1"), "a")
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from threadloom._postgres import AsyncConn, aopen_connection, aopen_pool
from threadloom.store.base import Op, Result, StoredItem, TTLConfig
from threadloom.store.postgres._core import PostgresIndexConfig, PostgresStoreCore
from threadloom.store.postgres._indexer import POLL_S, QUIET_S, AsyncVectorIndexer
from threadloom.store.postgres._plans import index_pending_plan, sweep_ttl_plan

__all__ = ["AsyncPostgresStore"]

T = TypeVar("T")


class AsyncPostgresStore(PostgresStoreCore):
    """Async twin of :class:`~threadloom.store.postgres.PostgresStore`.

    ``conn`` is a ``psycopg.AsyncConnection`` (``autocommit=True``) or a
    ``psycopg_pool.AsyncConnectionPool``. The sync methods (``get``, ``put``,
    ...) work from other threads while the event loop runs; inside the loop,
    use the ``a``-prefixed ones.
    """

    def __init__(
        self,
        conn: Any,
        *,
        index: PostgresIndexConfig | None = None,
        ttl: TTLConfig | None = None,
    ) -> None:
        super().__init__(index=index, ttl=ttl)
        self._conn = AsyncConn(conn)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._indexer: AsyncVectorIndexer | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: PostgresIndexConfig | None = None,
        ttl: TTLConfig | None = None,
        pool_size: int | None = None,
    ) -> AsyncIterator[AsyncPostgresStore]:
        """A store on a new async connection (or pool), closed on exit; runs the vector
        indexer meanwhile (see :meth:`start_indexer`), and sweeps TTL if configured."""
        async with contextlib.AsyncExitStack() as stack:
            if pool_size:
                source: Any = await stack.enter_async_context(
                    await aopen_pool(conn_string, max_size=pool_size)
                )
            else:
                source = await stack.enter_async_context(await aopen_connection(conn_string))
            store = cls(source, index=index, ttl=ttl)
            await store.start_indexer()
            stack.push_async_callback(store.stop_indexer)
            if ttl and ttl.get("sweep_interval_minutes"):
                await store.start_ttl_sweeper()
                stack.push_async_callback(store.stop_ttl_sweeper)
            yield store

    async def setup(self) -> None:
        """Create or upgrade the tables and vector index (see ``PostgresStore.setup``)."""
        self._loop = asyncio.get_running_loop()
        await self._conn.run(self._setup_plan())
        if self._indexer is not None:
            self._indexer.notify()  # the index may be new: see whether puts can defer

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute ``ops`` in order in one transaction (after validating all and embedding once)."""
        self._loop = asyncio.get_running_loop()
        checked, embedding = self._prepare(ops)
        embedded = await embedding.aembed(self._index) if embedding is not None else None
        indexer = self._indexer if self._deferring else None
        results = await self._conn.run(
            self._batch_plan(checked, embedded, defer=indexer is not None),
            read_only=self._planner.read_only(checked),
        )
        if indexer is not None and self._writes_vectors(checked):
            indexer.notify()
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Sync twin of :meth:`abatch`, for threads other than the event loop's."""
        ops = list(ops)
        return self._in_loop(lambda: self.abatch(ops))

    async def adump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix``, oldest update first (see ``BaseStore``)."""
        self._loop = asyncio.get_running_loop()
        return await self._conn.run(self._dump_plan(namespace_prefix, vectors), read_only=True)

    async def aload_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items with their times, TTL, expiry and vectors, in one transaction."""
        self._loop = asyncio.get_running_loop()
        return await self._conn.run(self._load_plan(items))

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Sync twin of :meth:`adump_items`, for threads other than the event loop's."""
        return self._in_loop(lambda: self.adump_items(namespace_prefix, vectors=vectors))

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Sync twin of :meth:`aload_items`, for threads other than the event loop's."""
        items = list(items)
        return self._in_loop(lambda: self.aload_items(items))

    def _in_loop(self, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise RuntimeError(
                "AsyncPostgresStore's sync methods cannot run inside its event loop; "
                "use the async ones (aget, aput, asearch, ...)"
            )
        if loop is None or not loop.is_running():
            raise RuntimeError(
                "AsyncPostgresStore's sync methods need its event loop running in another thread"
            )
        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    async def start_indexer(self, *, quiet_s: float = QUIET_S, poll_s: float = POLL_S) -> None:
        """Take the HNSW index's upkeep off single puts, into a task on the running loop
        (see ``PostgresStore.start_indexer``)."""
        if self._indexer is None and self._layout is not None:
            self._loop = asyncio.get_running_loop()
            self._indexer = AsyncVectorIndexer(self, quiet_s=quiet_s, poll_s=poll_s)
            self._indexer.start()

    async def stop_indexer(self) -> None:
        """Stop the indexer task (see ``PostgresStore.stop_indexer``)."""
        indexer, self._indexer = self._indexer, None
        self._deferring = False
        if indexer is not None:
            await indexer.stop()

    async def index_pending(self) -> int:
        """Add every vector a put left out of the HNSW index to it now; returns how many."""
        total = 0
        while done := await self._conn.run(index_pending_plan(500)):
            total += done
        return total

    async def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        return await self._conn.run(sweep_ttl_plan())

    async def start_ttl_sweeper(self, interval_minutes: float | None = None) -> None:
        """Sweep expired items every ``interval_minutes`` in a background task."""
        if self._sweeper is not None:
            return
        interval = interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5

        async def loop() -> None:
            while True:
                await asyncio.sleep(float(interval) * 60)
                with contextlib.suppress(Exception):  # a failed sweep is retried next time
                    await self.sweep_ttl()

        self._sweeper = asyncio.create_task(loop())

    async def stop_ttl_sweeper(self) -> None:
        """Stop the sweeper task."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
