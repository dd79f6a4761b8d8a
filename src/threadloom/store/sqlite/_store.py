"""The :class:`SqliteStore`: its file, setup, batches in one transaction each, writes and TTL."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar

from threadloom._sqlite import Database, Synchronous, migrate, verify
from threadloom.errors import (
    IndexConfigMismatchError,
    IndexNotConfiguredError,
    InvalidStoreInputError,
)
from threadloom.store._dump import StoredItem, from_epoch, prepare_load
from threadloom.store._embedding import EmbeddedBatch, ResolvedIndex
from threadloom.store._filters import compile_filter, parse_filter
from threadloom.store._jsontext import loads as load_json
from threadloom.store._modes import fusion_config as _fusion_config
from threadloom.store._modes import text_fields as _text_fields
from threadloom.store._ops import matches_condition
from threadloom.store.base import (
    SEARCH_MODES,
    BaseStore,
    DeleteNamespaceOp,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
    TTLConfig,
    configured_search_mode,
    normalize_index_config,
    run_in_thread,
    validate_ops,
    validate_ttl_config,
    vector_index_config,
)
from threadloom.store.sqlite._batch import (
    EPOCH,
    ITEM_COLUMNS,
    LIVE,
    Namespace,
    Prepared,
    Run,
    flush,
    meta,
    prune_removals,
    refresh_ttl,
    stored_dims,
    to_embed,
)
from threadloom.store.sqlite._dump import dump_rows, restamp
from threadloom.store.sqlite._keyword_fill import KeywordFiller
from threadloom.store.sqlite._keyword_sync import SyncedKeywords
from threadloom.store.sqlite._schema import COMPONENT, MIGRATIONS
from threadloom.store.sqlite._search import Searches
from threadloom.store.sqlite._sql import (
    compile_where,
    join_namespace,
    prefix_where,
    readable,
    split_namespace,
)
from threadloom.store.sqlite._text_search import (
    bodies_at,
    build_keyword_index,
    catch_up_keyword_rows,
    index_paths,
    keyword_rows_behind,
    mark_keyword_rows,
)
from threadloom.store.sqlite._vector_sync import SyncedVectors

__all__ = ["SqliteStore"]

T = TypeVar("T")


class SqliteStore(Searches, BaseStore):
    """A store kept in a SQLite file (or ``":memory:"``), with semantic index and TTL.

    ``conn`` is a path or an open ``sqlite3.Connection`` (switched to WAL and
    autocommit; closing it stays the caller's job). ``index`` and ``ttl`` are as
    for :class:`~threadloom.store.memory.InMemoryStore`. :meth:`setup` creates
    or upgrades the tables; the first operation runs it if you did not.

    A file that holds another application's tables is refused with
    :class:`~threadloom.errors.ForeignDatabaseError` and left untouched,
    unless ``allow_foreign_tables=True`` says to share it on purpose.

    Every indexed store can also search a keyword index of the same texts, so
    ``search(..., mode="keyword" | "hybrid")`` works; ``index={"fields": [...]}``
    without an embedder gives a keyword-only store. The keyword index is built
    by :meth:`setup` when ``search_mode`` searches by keywords by default
    (``"keyword"`` or ``"hybrid"``); once the file marks it live, every writer
    keeps it in step. A ``"vector"`` store's puts write no keyword rows: a
    thread started by :meth:`setup` indexes them in the background
    (``_keyword_fill``), and a keyword search indexes only the latest puts.

    One store object may be shared by threads (they take turns on its
    connection); other processes may open the same file at the same time.
    """

    supports_ttl = True
    supported_search_modes = SEARCH_MODES

    def __init__(
        self,
        conn: sqlite3.Connection | str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        synchronous: Synchronous = "NORMAL",
        allow_foreign_tables: bool = False,
    ) -> None:
        index = normalize_index_config(index)
        self.index_config = index
        self._search_mode = configured_search_mode(index)
        self._fusion = _fusion_config(index)
        self._index = ResolvedIndex.from_config(vector_index_config(index))
        # The paths whose text is keyword-indexed; None: no keyword index at all.
        self._text_fields = _text_fields(index, self._index)
        # Each put records the paths its keyword rows come from; a put without its own
        # ``index`` uses these (and their JSON, encoded once here).
        self._default_paths = index_paths(None, self._text_fields)
        self._default_paths_json = json.dumps(self._default_paths)
        self._keyword_live = False  # known live in the file (it never goes back)
        # Whether keyword searches may read the rows (live, or caught up at least once:
        # each keyword search of a "vector" store catches up with the latest puts first).
        self._keyword_rows_ready = False
        self._filler: KeywordFiller | None = None
        # The data_version at which the rows were last seen caught up (None: since then
        # this process wrote items without keyword rows, or never looked).
        self._keyword_rows_seen: int | None = None
        self.ttl_config = validate_ttl_config(ttl)
        self._db = Database.adopt(
            conn, synchronous=synchronous, allow_foreign_tables=allow_foreign_tables
        )
        self._vectors = SyncedVectors(self._index.dims) if self._index else None
        self._keywords = SyncedKeywords() if self._text_fields is not None else None
        self._ready = False
        self._clock: Callable[[], float] = time.time
        self._sweeper: threading.Thread | None = None
        self._sweeper_stop = threading.Event()
        if self.ttl_config and self.ttl_config.get("sweep_interval_minutes"):
            self.start_ttl_sweeper()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        allow_foreign_tables: bool = False,
    ) -> Iterator[SqliteStore]:
        """Open a store on a file path (or ``":memory:"``) and close it on exit."""
        store = cls(conn_string, index=index, ttl=ttl, allow_foreign_tables=allow_foreign_tables)
        try:
            yield store
        finally:
            store.close()

    # --- lifecycle ---

    def setup(self) -> None:
        """Create or upgrade the store's tables; idempotent.

        The keyword index is built here (once per file, in one write
        transaction: see ``_text_search``) when ``search_mode`` is ``"keyword"``
        or ``"hybrid"``, so no search of such a store pays for it. A
        ``"vector"`` store's puts skip the keyword rows; here it starts the
        background thread that indexes them (``_keyword_fill``).

        Raises :class:`~threadloom.errors.SchemaVersionError` for a file written
        by a newer threadloom and :class:`~threadloom.errors.IndexConfigMismatchError`
        when the file's vectors have other ``dims`` than this store's index.
        """
        migrate(self._db, COMPONENT, MIGRATIONS)
        if self._index is not None:
            stored = self._db.read(stored_dims)
            if stored is not None and stored != self._index.dims:
                raise self._dims_error(stored)
        self._ready = True
        if self._search_mode != "vector":
            # Built here, so no search pays for it: one write that indexes the items a
            # file holds from before (nothing for a new file); every writer keeps it after.
            # A vector store does not: every put would pay for rows no search reads.
            self._ensure_keyword_index()
        elif self._text_fields is not None and self._filler is None:
            # Its keyword rows are caught up in the background instead (_keyword_fill).
            self._filler = KeywordFiller(self)
            self._filler.start()

    def verify(self) -> None:
        """Read every page of the file; a damaged one raises
        :class:`~threadloom.errors.DatabaseError` naming the file (time grows with its size)."""
        verify(self._db)

    def _ensure_keyword_index(self) -> None:
        """Make the file's keyword rows searchable: live for a store that searches by keyword
        by default (one write, once), caught up with the latest puts for a ``"vector"`` one."""
        fields = self._text_fields
        if self._keyword_live or fields is None:
            return
        vectors_only = self._index is not None
        if self._search_mode == "vector":
            # Only what the background filler has not indexed yet: the latest puts.
            with self._db.lock:
                version = self._db.data_version()  # before looking: a later commit shows
                if self._keyword_rows_seen == version:
                    return  # no write since the last look, here or elsewhere
                if self._db.read(keyword_rows_behind):
                    self._db.write(
                        lambda c: catch_up_keyword_rows(c, fields, vectors_only=vectors_only)
                    )
                    self._keywords_changed()
                self._keyword_rows_seen = version
                self._keyword_rows_ready = True
            return
        self._db.write(lambda c: build_keyword_index(c, fields, vectors_only=vectors_only))
        self._keyword_live = self._keyword_rows_ready = True

    def _catch_up_keywords(self, limit: int) -> bool:
        """Index up to ``limit`` items written since the last catch-up; whether all are
        (the background filler's step)."""
        fields = self._text_fields
        assert fields is not None
        vectors_only = self._index is not None
        with self._db.lock:
            done = self._db.write(
                lambda c: catch_up_keyword_rows(c, fields, vectors_only=vectors_only, limit=limit)
            )
            self._keywords_changed()
        return done

    def _keywords_changed(self) -> None:
        if self._keywords is not None:
            self._keywords.rows_changed()

    def _needs_keywords(self, prepared: dict[int, Prepared]) -> bool:
        return not self._keyword_live and any(p.keywords for p in prepared.values())

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.setup()

    def _dims_error(self, stored: int) -> IndexConfigMismatchError:
        assert self._index is not None
        return IndexConfigMismatchError(
            f"The store in {self._db.path!r} holds vectors of {stored} dims, but this store's "
            f"index has dims={self._index.dims}; open it with dims={stored} (or a new file). "
            "Nothing was written."
        )

    def close(self) -> None:
        """Stop the background threads and close the connection (if the store opened it)."""
        self.stop_ttl_sweeper()
        if self._filler is not None:
            self._filler.stop()
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the two abstract methods ---

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order, atomically when they write; validated and embedded first."""
        ops = validate_ops(ops)
        prepared = self._prepare(ops)
        self._ensure_ready()
        if self._needs_keywords(prepared):
            self._ensure_keyword_index()
        embedded = (
            self._index.plan(to_embed(ops, prepared)).embed(self._index) if self._index else None
        )
        return self._apply(ops, prepared, embedded)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`: embedding and SQLite work run off the event loop."""
        ops = validate_ops(ops)
        prepared = self._prepare(ops)
        if not self._ready:
            await run_in_thread(self.setup)
        if self._needs_keywords(prepared):
            await run_in_thread(self._ensure_keyword_index)
        embedded = (
            await self._index.plan(to_embed(ops, prepared)).aembed(self._index)
            if self._index
            else None
        )
        return await run_in_thread(self._apply, ops, prepared, embedded)

    def _prepare(self, ops: list[Op]) -> dict[int, Prepared]:
        """Checks that need the store's configuration; raises before anything runs."""
        prepared: dict[int, Prepared] = {}
        for position, op in enumerate(ops):
            if isinstance(op, SearchOp):
                tree = parse_filter(op.filter)
                predicate = compile_filter(op.filter)
                mode = op.mode or self._search_mode
                keywords = op.query is not None and mode != "vector"
                prepared[position] = Prepared(tree, predicate, compile_where(tree), mode, keywords)
                if op.query is None:
                    continue
                if self._text_fields is None:
                    raise IndexNotConfiguredError(
                        "search(query=...) needs a store created with an index, e.g. "
                        "SqliteStore(path, index={'embed': ..., 'dims': ...}) or, for "
                        "keyword search only, index={'fields': ['text']}; "
                        "search without query to list items"
                    )
                if mode != "keyword" and self._index is None:
                    raise IndexNotConfiguredError(
                        f"search(mode={mode!r}) needs an embedder, and this store's index has "
                        "none ('embed' and 'dims'); use mode='keyword'"
                    )
        return prepared

    def _apply(
        self, ops: list[Op], prepared: dict[int, Prepared], embedded: EmbeddedBatch | None
    ) -> list[Result]:
        writing = any(isinstance(op, (PutOp, DeleteNamespaceOp)) for op in ops)
        keywords = any(p.keywords for p in prepared.values())
        return self._transaction(
            writing,
            lambda conn, run: self._run(conn, run, ops, prepared, embedded),
            keywords=keywords,
        )

    def _transaction(
        self,
        writing: bool,
        body: Callable[[sqlite3.Connection, Run], T],
        *,
        keywords: bool = False,
    ) -> T:
        """Run ``body`` in one read or write transaction, then bring the in-process indexes up to date.

        ``keywords``: the batch searches by keyword, so its puts keep keyword rows."""
        runs: list[Run] = []

        def work(conn: sqlite3.Connection) -> T:
            run = Run(now=self._clock(), writing=writing, keyword_search=keywords)
            runs.append(run)
            if writing:
                self._begin_write(conn, run)
            return body(conn, run)

        with self._db.lock:
            try:
                results = self._db.write(work) if writing else self._db.read(work)
            except BaseException:
                if any(r.index_touched for r in runs):
                    self._forget_indexes()  # they may hold rolled-back rows
                raise
            run = runs[-1]
            if any(r.index_touched for r in runs[:-1]):
                self._forget_indexes()  # a retried attempt caught up with rolled-back rows
            if writing:
                self._applied_own_write(run)
            if not writing and run.refresh:
                self._db.write(lambda conn: refresh_ttl(conn, run.refresh, self._clock()))
        return results

    def _forget_indexes(self) -> None:
        if self._vectors is not None:
            self._vectors.invalidate()
        if self._keywords is not None:
            self._keywords.invalidate()

    def _applied_own_write(self, run: Run) -> None:
        if self._vectors is not None:
            self._vectors.applied_own_write(run.seq_before, run.seq, run.changes)
        if self._keywords is not None:
            self._keywords.applied_own_write(
                run.seq_before, run.seq, run.text_changes, complete=run.keyword_live
            )
            if not run.keyword_live and run.seq != run.seq_before:
                self._keyword_rows_seen = None
                if self._filler is not None:
                    self._filler.notify()

    # --- one batch inside its transaction ---

    def _run(
        self,
        conn: sqlite3.Connection,
        run: Run,
        ops: list[Op],
        prepared: dict[int, Prepared],
        embedded: EmbeddedBatch | None,
    ) -> list[Result]:
        results: list[Result] = []
        for position, op in enumerate(ops):
            if run.writing and not isinstance(op, PutOp):
                flush(conn, run)  # later ops see the batch's earlier puts
            if isinstance(op, GetOp):
                results.append(self._get(conn, run, op))
            elif isinstance(op, PutOp):
                vectors = embedded.rows_of(position) if embedded else None
                self._put(conn, run, op, vectors)
                results.append(None)
            elif isinstance(op, SearchOp):
                plan = prepared[position]
                query = (
                    embedded.queries[op.query]
                    if embedded and op.query is not None and plan.mode != "keyword"
                    else None
                )
                results.append(self._search(conn, run, op, plan, query))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(conn, run, op))
            elif isinstance(op, DeleteNamespaceOp):
                results.append(self._delete_where(conn, run, *prefix_where(op.namespace_prefix)))
        if run.writing:
            self._end_write(conn, run)
        return results

    def _begin_write(self, conn: sqlite3.Connection, run: Run) -> None:
        """Read the counters a write transaction advances, and take its stamp."""
        meta = dict(
            conn.execute(
                "SELECT name, value FROM store_meta WHERE name IN ('seq', 'stamp', 'keyword_index')"
            ).fetchall()
        )
        run.seq_before = run.seq = int(meta["seq"])
        run.keyword_live = bool(meta.get("keyword_index"))
        fields = self._text_fields
        if not run.keyword_live and run.keyword_search and fields is not None:
            # The batch searches by keyword after its own puts: catch the rows up and
            # keep them for these puts too, so the search sees the file as it is.
            vectors_only = self._index is not None
            catch_up_keyword_rows(conn, fields, vectors_only=vectors_only, seq=run.seq)
            run.keyword_live = run.keywords_marked = True
        last = int(meta["stamp"])
        # Strictly increasing across processes, so "newest first" never ties on the clock.
        micros = max(int(run.now * 1_000_000), last + 1)
        run.stamp = EPOCH + timedelta(microseconds=micros)
        run.stamp_text = run.stamp.isoformat()
        conn.execute("UPDATE store_meta SET value = ? WHERE name = 'stamp'", (micros,))

    def _end_write(self, conn: sqlite3.Connection, run: Run) -> None:
        flush(conn, run)
        conn.execute("UPDATE store_meta SET value = ? WHERE name = 'seq'", (run.seq,))
        if run.keywords_marked:
            mark_keyword_rows(conn, run.seq)
        if run.refresh:
            refresh_ttl(conn, run.refresh, run.now)
        if run.removed:
            prune_removals(conn, run.now)

    # --- whole items (dump and load) ---

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix``, oldest update first (see :class:`BaseStore`)."""
        self._ensure_ready()
        return self._transaction(
            False,
            lambda conn, run: dump_rows(
                conn,
                tuple(namespace_prefix),
                run.now,
                vectors=vectors,
                default_paths=self._default_paths,
                keyword_fields=self._text_fields is not None,
            ),
        )

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items with their times, TTL, expiry and vectors, in one transaction."""
        loaded = prepare_load(items, self._index, now=from_epoch(self._clock()))
        self._ensure_ready()
        prefixes = [join_namespace(entry.op.namespace) for entry in loaded]

        def load(conn: sqlite3.Connection, run: Run) -> int:
            for entry in loaded:
                self._put(conn, run, entry.op, entry.vectors)
            flush(conn, run)
            restamp(conn, loaded, prefixes)
            self._end_write(conn, run)
            return len(loaded)

        return self._transaction(True, load)

    def _get(self, conn: sqlite3.Connection, run: Run, op: GetOp) -> Item | None:
        if not readable(op.namespace):
            return None
        row = conn.execute(
            f"SELECT {ITEM_COLUMNS} FROM store_items WHERE prefix = ? AND key = ? AND {LIVE}",
            (join_namespace(op.namespace), op.key, run.now),
        ).fetchone()
        if row is None:
            return None
        if op.refresh_ttl and row[6] is not None:
            run.refresh.append(row[0])
        return Item(
            value=load_json(row[3]),
            key=op.key,
            namespace=op.namespace,
            created_at=row[4],
            updated_at=row[5],
        )

    def _put(self, conn: sqlite3.Connection, run: Run, op: PutOp, vectors: Any) -> None:
        prefix = join_namespace(op.namespace)
        if op.value is None:
            self._delete_where(conn, run, "prefix = ? AND key = ?", [prefix, op.key])
            return
        run.seq += 1
        stamp = run.stamp_text
        expires_at = run.now + op.ttl * 60.0 if op.ttl is not None else None
        value = json.dumps(op.value, separators=(",", ":"), ensure_ascii=False)
        if op.index is None:
            paths, paths_json = self._default_paths, self._default_paths_json
        else:
            paths = index_paths(op.index, self._text_fields)
            paths_json = json.dumps(paths)
        run.pending_rows.append(
            (prefix, op.key, value, stamp, stamp, run.seq, op.ttl, expires_at, paths_json, run.now)
        )
        if run.keyword_live:
            # Tokenizing and FTS5 upkeep are paid only once a keyword search needs them.
            bodies = run.pending_texts[(prefix, op.key)] = bodies_at(op.value, paths)
            run.text_changes.append((op.namespace, op.key, bodies))
        if vectors is not None and len(vectors):
            if not run.dims_checked:
                self._check_dims(conn)
                run.dims_checked = True
            run.pending_vectors[(prefix, op.key)] = vectors.tobytes()
            run.changes.append((op.namespace, op.key, vectors))
        else:
            # Re-putting replaces the vectors: none now means none stale either.
            run.pending_vectors[(prefix, op.key)] = None
            run.changes.append((op.namespace, op.key, None))

    def _check_dims(self, conn: sqlite3.Connection) -> None:
        assert self._index is not None
        stored = stored_dims(conn)
        if stored is None:
            conn.execute(
                "INSERT INTO store_meta (name, value) VALUES ('dims', ?)", (self._index.dims,)
            )
        elif stored != self._index.dims:
            raise self._dims_error(stored)

    def _delete_where(
        self, conn: sqlite3.Connection, run: Run, where: str, params: list[Any]
    ) -> int:
        """Delete the items matching ``where``; returns how many of them were live."""
        flush(conn, run)  # pending vectors of an item deleted now must not outlive it
        rows = conn.execute(
            f"DELETE FROM store_items WHERE {where} RETURNING id, prefix, key, expires_at", params
        ).fetchall()
        if not rows:
            return 0
        conn.executemany("DELETE FROM store_vectors WHERE item_id = ?", [(r[0],) for r in rows])
        conn.executemany("DELETE FROM store_texts WHERE item_id = ?", [(r[0],) for r in rows])
        removals = []
        for _, prefix, key, _ in rows:
            run.seq += 1
            removals.append((run.seq, run.now, prefix, key))
            namespace = split_namespace(prefix)
            run.changes.append((namespace, key, None))
            run.text_changes.append((namespace, key, None))
        conn.executemany(
            "INSERT INTO store_removals (seq, removed_at, prefix, key) VALUES (?, ?, ?, ?)",
            removals,
        )
        run.removed = True
        return sum(1 for r in rows if r[3] is None or r[3] > run.now)

    def _list_namespaces(
        self, conn: sqlite3.Connection, run: Run, op: ListNamespacesOp
    ) -> list[Namespace]:
        conditions = op.match_conditions or ()
        prefixes = conn.execute(
            f"SELECT DISTINCT prefix FROM store_items WHERE {LIVE}", (run.now,)
        ).fetchall()
        found: set[Namespace] = set()
        for (prefix,) in prefixes:
            namespace = split_namespace(prefix)
            if all(matches_condition(namespace, c) for c in conditions):
                found.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
        return sorted(found)[op.offset : op.offset + op.limit]

    # --- TTL ---

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        self._ensure_ready()

        def sweep(conn: sqlite3.Connection) -> tuple[int, Run]:
            run = Run(now=self._clock(), writing=True)
            run.seq_before = run.seq = int(meta(conn, "seq"))
            rows = conn.execute(
                "SELECT count(*) FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (run.now,),
            ).fetchone()[0]
            if rows:
                self._delete_where(
                    conn, run, "expires_at IS NOT NULL AND expires_at <= ?", [run.now]
                )
                conn.execute("UPDATE store_meta SET value = ? WHERE name = 'seq'", (run.seq,))
            prune_removals(conn, run.now)
            return int(rows), run

        with self._db.lock:
            count, run = self._db.write(sweep)
            self._applied_own_write(run)
        return count

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Start a daemon thread that calls :meth:`sweep_ttl` periodically.

        The interval defaults to ``ttl["sweep_interval_minutes"]``; :meth:`close`
        stops the thread, which never keeps the process alive.
        """
        interval = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes")
        if interval is None or isinstance(interval, bool) or not interval > 0:
            raise InvalidStoreInputError(
                f"start_ttl_sweeper needs a positive sweep interval in minutes, got {interval!r}"
            )
        if self._sweeper is not None and self._sweeper.is_alive():
            return
        self._sweeper_stop = threading.Event()
        self._sweeper = threading.Thread(
            target=_sweep_loop,
            args=(weakref.ref(self), self._sweeper_stop, float(interval) * 60.0),
            name="threadloom-sqlite-ttl-sweeper",
            daemon=True,
        )
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it has stopped within ``timeout`` seconds."""
        sweeper, self._sweeper = self._sweeper, None
        self._sweeper_stop.set()
        if sweeper is None or sweeper is threading.current_thread():
            return True
        sweeper.join(timeout)
        return not sweeper.is_alive()


def _sweep_loop(
    store_ref: weakref.ref[SqliteStore], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(interval):
        store = store_ref()
        if store is None:
            return
        try:
            store.sweep_ttl()
        except Exception:
            # A closed store or a transient failure: the next round tries again.
            if store._db.closed:
                return
        del store  # do not hold the store alive while waiting
