"""The sync :class:`PostgresStore`: its connection or pool, setup, one transaction per batch, TTL sweeps."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from threadloom._postgres import Conn, open_connection, open_pool
from threadloom.store.base import Op, Result, StoredItem, TTLConfig, run_in_thread
from threadloom.store.postgres._core import PostgresIndexConfig, PostgresStoreCore
from threadloom.store.postgres._indexer import POLL_S, QUIET_S, VectorIndexer
from threadloom.store.postgres._plans import index_pending_plan, sweep_ttl_plan

__all__ = ["PostgresStore"]


class PostgresStore(PostgresStoreCore):
    """A :class:`~threadloom.store.base.BaseStore` on PostgreSQL (sync; async calls run in a thread).

    ``conn`` is a ``psycopg.Connection`` (opened with ``autocommit=True``; it
    is used under a lock) or a ``psycopg_pool.ConnectionPool``; or use
    :meth:`from_conn_string`. Call :meth:`setup` once before first use.

    Writes and batches run in one transaction each; a single read (``get``,
    ``search``, ``list_namespaces``) on an idle autocommit connection runs
    without BEGIN/COMMIT, so a search is one round trip. For that, the store
    sets pgvector's ``hnsw.ef_search`` and ``hnsw.iterative_scan`` *for the
    session* on each connection it searches with (your own connection or the
    pool's), once and again only when a deeper page needs a wider search;
    other statements on that connection see these values. If something resets
    session state on such a connection (``RESET ALL``, ``DISCARD ALL``, a pool
    ``reset`` callback), results stay correct (a search that comes up short
    answers exactly) but recall may drop to pgvector's defaults on that
    connection; new connections get the settings again.
    """

    def __init__(
        self,
        conn: Any,
        *,
        index: PostgresIndexConfig | None = None,
        ttl: TTLConfig | None = None,
    ) -> None:
        super().__init__(index=index, ttl=ttl)
        self._conn = Conn(conn)
        self._sweeper: threading.Thread | None = None
        self._sweeper_stop = threading.Event()
        self._indexer: VectorIndexer | None = None

    @classmethod
    @contextlib.contextmanager
    def from_conn_string(
        cls,
        conn_string: str,
        *,
        index: PostgresIndexConfig | None = None,
        ttl: TTLConfig | None = None,
        pool_size: int | None = None,
    ) -> Iterator[PostgresStore]:
        """A store on a new connection (or a pool of ``pool_size``), closed on exit.

        With a vector index, the vector indexer runs meanwhile (see
        :meth:`start_indexer`); a TTL sweeper when ``ttl["sweep_interval_minutes"]``
        is set.
        """
        with contextlib.ExitStack() as stack:
            if pool_size:
                source: Any = stack.enter_context(open_pool(conn_string, max_size=pool_size))
            else:
                source = stack.enter_context(open_connection(conn_string))
            store = cls(source, index=index, ttl=ttl)
            store.start_indexer()
            stack.callback(store.stop_indexer)
            if ttl and ttl.get("sweep_interval_minutes"):
                store.start_ttl_sweeper()
                stack.callback(store.stop_ttl_sweeper)
            yield store

    def setup(self) -> None:
        """Create or upgrade the tables (and the vector index); idempotent, safe on many hosts.

        Raises :class:`~threadloom.errors.IndexConfigMismatchError` when the
        stored vectors have other dims than ``index``, and
        :class:`~threadloom.errors.SchemaVersionError` for a newer schema.
        """
        self._conn.run(self._setup_plan())
        if self._indexer is not None:
            self._indexer.notify()  # the index may be new: see whether puts can defer

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute ``ops`` in order in one transaction (after validating all and embedding once)."""
        checked, embedding = self._prepare(ops)
        embedded = embedding.embed(self._index) if embedding is not None else None
        indexer = self._indexer if self._deferring else None
        results = self._conn.run(
            self._batch_plan(checked, embedded, defer=indexer is not None),
            read_only=self._planner.read_only(checked),
        )
        if indexer is not None and self._writes_vectors(checked):
            indexer.notify()
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch` (runs it in a worker thread)."""
        return await run_in_thread(self.batch, list(ops))

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix``, oldest update first (see ``BaseStore``)."""
        return self._conn.run(self._dump_plan(namespace_prefix, vectors), read_only=True)

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items with their times, TTL, expiry and vectors, in one transaction."""
        return self._conn.run(self._load_plan(items))

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        return self._conn.run(sweep_ttl_plan())

    def start_indexer(self, *, quiet_s: float = QUIET_S, poll_s: float = POLL_S) -> None:
        """Take the HNSW index's upkeep off single puts, into a background thread.

        While it runs, a put of a few vectors writes them outside the HNSW index
        (searches still find them: they are compared exactly), and the thread adds
        them to the index once puts pause for ``quiet_s`` seconds; it looks for
        vectors other processes left every ``poll_s``. :meth:`from_conn_string`
        starts it; with your own connection or pool, start it here and stop it with
        :meth:`stop_indexer`. Does nothing for a store without vectors, or when
        an indexer already runs.
        """
        if self._indexer is None and self._layout is not None:
            self._indexer = VectorIndexer(self, quiet_s=quiet_s, poll_s=poll_s)
            self._indexer.start()

    def stop_indexer(self, timeout: float | None = None) -> None:
        """Stop the indexer thread; vectors it has not reached wait for the next indexer
        (or :meth:`index_pending`), and searches keep finding them meanwhile."""
        indexer, self._indexer = self._indexer, None
        self._deferring = False
        if indexer is not None:
            indexer.stop(timeout)

    def index_pending(self) -> int:
        """Add every vector a put left out of the HNSW index to it now; returns how many."""
        total = 0
        while done := self._conn.run(index_pending_plan(500)):
            total += done
        return total

    def start_ttl_sweeper(self, interval_minutes: float | None = None) -> None:
        """Sweep expired items every ``interval_minutes`` (default: the TTL config's) in a thread."""
        if self._sweeper is not None:
            return
        interval = interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        self._sweeper_stop.clear()

        def loop() -> None:
            while not self._sweeper_stop.wait(float(interval) * 60):
                with contextlib.suppress(Exception):  # a failed sweep is retried next time
                    self.sweep_ttl()

        self._sweeper = threading.Thread(target=loop, name="threadloom-ttl-sweeper", daemon=True)
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> None:
        """Stop the sweeper thread started by :meth:`start_ttl_sweeper`."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            self._sweeper_stop.set()
            sweeper.join(timeout)
