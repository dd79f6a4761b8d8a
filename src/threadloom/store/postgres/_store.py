"""The sync :class:`PostgresStore`: its connection or pool, setup, one transaction per batch, TTL sweeps."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from threadloom._postgres import Conn, open_connection, open_pool
from threadloom.store.base import Op, Result, StoredItem, TTLConfig, run_in_thread
from threadloom.store.postgres._core import PostgresIndexConfig, PostgresStoreCore
from threadloom.store.postgres._plans import sweep_ttl_plan

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

        A TTL sweeper runs meanwhile when ``ttl["sweep_interval_minutes"]`` is set.
        """
        with contextlib.ExitStack() as stack:
            if pool_size:
                source: Any = stack.enter_context(open_pool(conn_string, max_size=pool_size))
            else:
                source = stack.enter_context(open_connection(conn_string))
            store = cls(source, index=index, ttl=ttl)
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

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute ``ops`` in order in one transaction (after validating all and embedding once)."""
        checked, embedding = self._prepare(ops)
        embedded = embedding.embed(self._index) if embedding is not None else None
        return self._conn.run(
            self._batch_plan(checked, embedded), read_only=self._planner.read_only(checked)
        )

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
