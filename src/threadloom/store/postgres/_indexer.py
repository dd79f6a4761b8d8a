"""A PostgreSQL store's vector indexer: the HNSW upkeep of single puts, off the request path.

Inserting a vector into the HNSW index was most of a single put's time. While
an indexer runs, a store writes a put's few vectors with ``indexed = false``:
outside the (partial) HNSW index, found by searches through a small btree
index and compared exactly. The indexer marks them ``indexed`` once puts pause
for :data:`QUIET_S`, :data:`CHUNK` rows per transaction (so requests sharing
one connection wait at most that long; it never waits for another session's
lock on the table, so it never holds that connection longer), or after :data:`MAX_DEFERRED` puts
without a pause, so the rows read exactly stay few. It also looks every
:data:`POLL_S` for rows other processes left.

:class:`VectorIndexer` is a daemon thread for :class:`PostgresStore`,
:class:`AsyncVectorIndexer` a task for its async twin; ``from_conn_string``
starts and stops them. A store whose HNSW index was built by an older version
(it holds every row) does not defer: that would only add work.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING

from threadloom.errors import InvalidStoreInputError
from threadloom.store.postgres._plans import deferred_index_plan, index_pending_plan

if TYPE_CHECKING:
    from threadloom.store.postgres._store import PostgresStore
    from threadloom.store.postgres.aio import AsyncPostgresStore

__all__ = ["CHUNK", "MAX_DEFERRED", "POLL_S", "QUIET_S", "AsyncVectorIndexer", "VectorIndexer"]

#: Rows indexed per transaction (about 2 ms each with the default HNSW parameters).
CHUNK = 50
#: Seconds without a deferred put before the indexer catches up.
QUIET_S = 0.2
#: Deferred puts after which the indexer catches up even if puts go on.
MAX_DEFERRED = 1000
#: Seconds between looks for rows deferred by other processes.
POLL_S = 2.0
#: Seconds between two transactions of a catch-up: requests waiting for the connection go first.
PAUSE_S = 0.002


def _seconds(name: str, value: float) -> float:
    """``value`` if it is a positive, finite number of seconds; else a clear error."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value < float("inf")
    ):
        raise InvalidStoreInputError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


class VectorIndexer:
    """The thread that indexes one sync store's deferred vectors (``quiet_s`` and
    ``poll_s`` default to :data:`QUIET_S` and :data:`POLL_S`)."""

    def __init__(
        self, store: PostgresStore, *, quiet_s: float = QUIET_S, poll_s: float = POLL_S
    ) -> None:
        self._store = weakref.ref(store)
        self._quiet_s, self._poll_s = _seconds("quiet_s", quiet_s), _seconds("poll_s", poll_s)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._deferred = 0
        self._thread = threading.Thread(
            target=self._loop, name="threadloom-postgres-vector-indexer", daemon=True
        )

    def start(self) -> None:
        self._wake.set()  # the first round: is the index partial, is anything waiting?
        self._thread.start()

    def notify(self) -> None:
        """A put deferred its vectors: index them once puts pause."""
        self._idle.clear()
        self._deferred += 1
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every deferred vector this store wrote is indexed; whether it is."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        first = True  # the first round (is the index partial?) does not wait
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            # Let a burst of puts finish first, unless it defers too many rows.
            while self._wake.is_set() and self._deferred < MAX_DEFERRED and not first:
                self._wake.clear()
                if self._stop.wait(self._quiet_s):
                    return
            first = False
            self._wake.clear()
            self._deferred = 0
            store = self._store()
            if store is None or self._stop.is_set():
                return
            try:
                self._round(store)
            except Exception:  # e.g. no tables yet: tried again at the next wake or poll
                continue
            finally:
                del store
            if not self._wake.is_set():
                self._idle.set()

    def _round(self, store: PostgresStore) -> None:
        layout = store._layout
        assert layout is not None
        store._deferring = store._conn.run(deferred_index_plan(layout.index_name), read_only=True)
        while not self._stop.is_set():
            if store._conn.run(index_pending_plan(CHUNK, nowait=True)) < CHUNK:
                return
            self._stop.wait(PAUSE_S)


class AsyncVectorIndexer:
    """Async twin of :class:`VectorIndexer`: a task on the store's event loop."""

    def __init__(
        self, store: AsyncPostgresStore, *, quiet_s: float = QUIET_S, poll_s: float = POLL_S
    ) -> None:
        self._store = weakref.ref(store)
        self._quiet_s, self._poll_s = _seconds("quiet_s", quiet_s), _seconds("poll_s", poll_s)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._deferred = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._wake.set()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def notify(self) -> None:
        self._idle.clear()
        self._deferred += 1
        self._wake.set()

    async def stop(self) -> None:
        """End the task and wait for it.

        The flag, not only the cancellation, ends it: before Python 3.12, a task cancelled
        while ``asyncio.wait_for`` gets its inner result carries on as if never cancelled.
        A cancellation of the caller itself still reaches the caller.
        """
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # never raises the task's CancelledError

    async def wait_idle(self, timeout: float | None = None) -> bool:
        return await _wait_event(self._idle, timeout)

    async def _loop(self) -> None:
        first = True
        while not self._stopping:
            await _wait_event(self._wake, self._poll_s)
            while (
                self._wake.is_set()
                and self._deferred < MAX_DEFERRED
                and not first
                and not self._stopping
            ):
                self._wake.clear()
                await asyncio.sleep(self._quiet_s)
            if self._stopping:
                return
            first = False
            self._wake.clear()
            self._deferred = 0
            store = self._store()
            if store is None:
                return
            try:
                await self._round(store)
            except Exception:  # e.g. no tables yet: tried again at the next wake or poll
                continue
            finally:
                del store
            if not self._wake.is_set():
                self._idle.set()

    async def _round(self, store: AsyncPostgresStore) -> None:
        layout = store._layout
        assert layout is not None
        store._deferring = await store._conn.run(
            deferred_index_plan(layout.index_name), read_only=True
        )
        while (
            await store._conn.run(index_pending_plan(CHUNK, nowait=True)) >= CHUNK
            and not self._stopping
        ):
            await asyncio.sleep(PAUSE_S)


async def _wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set or ``timeout`` seconds passed; whether it is set.

    Unlike ``asyncio.wait_for`` before Python 3.12, a cancellation of the waiting task is
    never lost when it meets the event being set: it always raises ``CancelledError``.
    """
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()
