"""A memory store in one SQLite file, safe to share between threads and processes.

Items, their vectors, their keyword index (FTS5) and TTLs live in the file
(WAL mode); semantic search runs on an in-process copy of the vectors that is
loaded on the first query and kept in step with writes from any process.
Keyword search is FTS5 scored as BM25 (``_text_search``); hybrid search fuses
both with :func:`threadloom.store._fusion.fuse_hits`. Needs no SQLite extension.

Example::

    from threadloom.store.sqlite import SqliteStore
    from threadloom.testing.embeddings import HashingEmbed

    with SqliteStore.from_conn_string(":memory:", index={"embed": HashingEmbed(64), "dims": 64}) as store:
        store.setup()
        store.put(("memories", "1"), "a", {"data": "User likes pizza"})
        store.put(("memories", "1"), "b", {"data": "User name is Bob"})
        [hit] = store.search(("memories", "1"), query="what is the user name", limit=1)
        assert hit.key == "b"
"""

from __future__ import annotations

import heapq
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

from threadloom._sqlite import Database, Synchronous, migrate, verify
from threadloom.errors import (
    IndexConfigMismatchError,
    IndexNotConfiguredError,
    InvalidStoreInputError,
)
from threadloom.store._embedding import EmbeddedBatch, ResolvedIndex
from threadloom.store._filters import AllOf, compile_filter, parse_filter
from threadloom.store._fusion import FusionConfig, fuse_hits
from threadloom.store._modes import fusion_config as _fusion_config
from threadloom.store._modes import text_fields as _text_fields
from threadloom.store.base import (
    SEARCH_MODES,
    BaseStore,
    DeleteNamespaceOp,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    configured_search_mode,
    run_in_thread,
    validate_ops,
    validate_ttl_config,
    vector_index_config,
)
from threadloom.store.sqlite._schema import COMPONENT, MIGRATIONS
from threadloom.store.sqlite._sql import (
    any_expired,
    compile_where,
    join_namespace,
    prefix_where,
    readable,
    split_namespace,
)
from threadloom.store.sqlite._text_search import (
    bodies_at,
    build_keyword_index,
    index_paths,
    keyword_matches,
    scope_tokens,
)
from threadloom.store.sqlite._vector_sync import SyncedVectors, VectorChange

__all__ = ["SqliteStore"]

Namespace = tuple[str, ...]
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_ITEM_COLUMNS = "id, prefix, key, value, created_at, updated_at, ttl_minutes, seq"
#: Addresses looked up per statement (SQLite caps expression depth at 1000).
_ADDRESSES_PER_QUERY = 400
#: Removal-log entries older than this are pruned; a reader further behind reloads.
_REMOVALS_KEPT_S = 3600.0
_UPSERT = """
INSERT INTO store_items
    (prefix, key, value, created_at, updated_at, seq, ttl_minutes, expires_at, index_paths)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (prefix, key) DO UPDATE SET
    value = excluded.value,
    index_paths = excluded.index_paths,
    created_at = CASE WHEN store_items.expires_at IS NOT NULL AND store_items.expires_at <= ?
                      THEN excluded.created_at ELSE store_items.created_at END,
    updated_at = excluded.updated_at,
    seq = excluded.seq,
    ttl_minutes = excluded.ttl_minutes,
    expires_at = excluded.expires_at
"""


@dataclass
class _Prepared:
    """A search's filter, parsed once: SQL when it can be, a Python predicate otherwise."""

    tree: AllOf
    predicate: Callable[[Any], bool] | None
    sql: tuple[str, list[Any]] | None
    mode: str = "vector"
    #: Whether the search reads the keyword index (a query in keyword or hybrid mode).
    keywords: bool = False


@dataclass
class _Run:
    """What one batch did, for after its transaction."""

    now: float
    writing: bool
    seq_before: int = 0
    seq: int = 0
    stamp: datetime = _EPOCH
    stamp_text: str = ""
    # Whether the file's keyword index is live (then puts write keyword rows).
    keyword_live: bool = False
    # Puts not yet sent to SQLite, written with two executemany calls by _flush:
    # the rows, then each address's vectors (the blob, or None to clear; last wins).
    pending_rows: list[tuple[Any, ...]] = field(default_factory=list)
    pending_vectors: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    # Each put address's keyword-index bodies (an empty list clears them; last wins).
    pending_texts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    changes: list[VectorChange] = field(default_factory=list)
    refresh: list[int] = field(default_factory=list)
    removed: bool = False
    dims_checked: bool = False
    index_touched: bool = False


class SqliteStore(BaseStore):
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
    by the first search that needs it, unless ``search_mode`` asks for keywords
    by default (then :meth:`setup` builds it); once built, every writer keeps it.

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
        self.ttl_config = validate_ttl_config(ttl)
        self._db = Database.adopt(
            conn, synchronous=synchronous, allow_foreign_tables=allow_foreign_tables
        )
        self._vectors = SyncedVectors(self._index.dims) if self._index else None
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

        The keyword index is built here when this store searches by keywords by
        default (``search_mode`` ``"keyword"`` or ``"hybrid"``); otherwise on the
        first keyword or hybrid search, once per file (see ``_text_search``).

        Raises :class:`~threadloom.errors.SchemaVersionError` for a file written
        by a newer threadloom and :class:`~threadloom.errors.IndexConfigMismatchError`
        when the file's vectors have other ``dims`` than this store's index.
        """
        migrate(self._db, COMPONENT, MIGRATIONS)
        if self._index is not None:
            stored = self._db.read(_stored_dims)
            if stored is not None and stored != self._index.dims:
                raise self._dims_error(stored)
        self._ready = True
        if self._search_mode != "vector":
            self._ensure_keyword_index()

    def verify(self) -> None:
        """Read every page of the file; a damaged one raises
        :class:`~threadloom.errors.DatabaseError` naming the file (time grows with its size)."""
        verify(self._db)

    def _ensure_keyword_index(self) -> None:
        """Build the file's keyword index unless it is live already (one write, once)."""
        fields = self._text_fields
        if self._keyword_live or fields is None:
            return
        vectors_only = self._index is not None
        self._db.write(lambda c: build_keyword_index(c, fields, vectors_only=vectors_only))
        self._keyword_live = True

    def _needs_keywords(self, prepared: dict[int, _Prepared]) -> bool:
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
        """Stop the TTL sweeper and close the connection (if the store opened it)."""
        self.stop_ttl_sweeper()
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
            self._index.plan(_to_embed(ops, prepared)).embed(self._index) if self._index else None
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
            await self._index.plan(_to_embed(ops, prepared)).aembed(self._index)
            if self._index
            else None
        )
        return await run_in_thread(self._apply, ops, prepared, embedded)

    def _prepare(self, ops: list[Op]) -> dict[int, _Prepared]:
        """Checks that need the store's configuration; raises before anything runs."""
        prepared: dict[int, _Prepared] = {}
        for position, op in enumerate(ops):
            if isinstance(op, SearchOp):
                tree = parse_filter(op.filter)
                predicate = compile_filter(op.filter)
                mode = op.mode or self._search_mode
                keywords = op.query is not None and mode != "vector"
                prepared[position] = _Prepared(tree, predicate, compile_where(tree), mode, keywords)
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
        self, ops: list[Op], prepared: dict[int, _Prepared], embedded: EmbeddedBatch | None
    ) -> list[Result]:
        writing = any(isinstance(op, (PutOp, DeleteNamespaceOp)) for op in ops)
        runs: list[_Run] = []

        def work(conn: sqlite3.Connection) -> list[Result]:
            run = _Run(now=self._clock(), writing=writing)
            runs.append(run)
            return self._run(conn, run, ops, prepared, embedded)

        with self._db.lock:
            try:
                results = self._db.write(work) if writing else self._db.read(work)
            except BaseException:
                if self._vectors is not None and any(r.index_touched for r in runs):
                    self._vectors.invalidate()  # it may hold rolled-back vectors
                raise
            run = runs[-1]
            if self._vectors is not None and any(r.index_touched for r in runs[:-1]):
                self._vectors.invalidate()  # a retried attempt caught up with rolled-back rows
            if writing and self._vectors is not None:
                self._vectors.applied_own_write(run.seq_before, run.seq, run.changes)
            if not writing and run.refresh:
                self._db.write(lambda conn: _refresh_ttl(conn, run.refresh, self._clock()))
        return results

    # --- one batch inside its transaction ---

    def _run(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        ops: list[Op],
        prepared: dict[int, _Prepared],
        embedded: EmbeddedBatch | None,
    ) -> list[Result]:
        if run.writing:
            meta = dict(
                conn.execute(
                    "SELECT name, value FROM store_meta "
                    "WHERE name IN ('seq', 'stamp', 'keyword_index')"
                ).fetchall()
            )
            run.seq_before = run.seq = int(meta["seq"])
            run.keyword_live = bool(meta.get("keyword_index"))
            last = int(meta["stamp"])
            # Strictly increasing across processes, so "newest first" never ties on the clock.
            micros = max(int(run.now * 1_000_000), last + 1)
            run.stamp = _EPOCH + timedelta(microseconds=micros)
            run.stamp_text = run.stamp.isoformat()
            conn.execute("UPDATE store_meta SET value = ? WHERE name = 'stamp'", (micros,))
        results: list[Result] = []
        for position, op in enumerate(ops):
            if run.writing and not isinstance(op, PutOp):
                _flush(conn, run)  # later ops see the batch's earlier puts
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
            _flush(conn, run)
            conn.execute("UPDATE store_meta SET value = ? WHERE name = 'seq'", (run.seq,))
            if run.refresh:
                _refresh_ttl(conn, run.refresh, run.now)
            if run.removed:
                _prune_removals(conn, run.now)
        return results

    def _get(self, conn: sqlite3.Connection, run: _Run, op: GetOp) -> Item | None:
        if not readable(op.namespace):
            return None
        row = conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM store_items WHERE prefix = ? AND key = ? AND {_LIVE}",
            (join_namespace(op.namespace), op.key, run.now),
        ).fetchone()
        if row is None:
            return None
        if op.refresh_ttl and row[6] is not None:
            run.refresh.append(row[0])
        return Item(
            value=json.loads(row[3]),
            key=op.key,
            namespace=op.namespace,
            created_at=row[4],
            updated_at=row[5],
        )

    def _put(self, conn: sqlite3.Connection, run: _Run, op: PutOp, vectors: Any) -> None:
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
            run.pending_texts[(prefix, op.key)] = bodies_at(op.value, paths)
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
        stored = _stored_dims(conn)
        if stored is None:
            conn.execute(
                "INSERT INTO store_meta (name, value) VALUES ('dims', ?)", (self._index.dims,)
            )
        elif stored != self._index.dims:
            raise self._dims_error(stored)

    def _delete_where(
        self, conn: sqlite3.Connection, run: _Run, where: str, params: list[Any]
    ) -> int:
        """Delete the items matching ``where``; returns how many of them were live."""
        _flush(conn, run)  # pending vectors of an item deleted now must not outlive it
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
            run.changes.append((split_namespace(prefix), key, None))
        conn.executemany(
            "INSERT INTO store_removals (seq, removed_at, prefix, key) VALUES (?, ?, ?, ?)",
            removals,
        )
        run.removed = True
        return sum(1 for r in rows if r[3] is None or r[3] > run.now)

    def _search(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        op: SearchOp,
        prepared: _Prepared,
        query: Any,
    ) -> list[SearchItem]:
        if not readable(op.namespace_prefix) or op.limit == 0:
            return []
        if op.query is not None:
            if prepared.mode == "keyword":
                return self._keyword_search(conn, run, op, prepared)
            if prepared.mode == "hybrid":
                return self._hybrid_search(conn, run, op, prepared, query)
            return self._semantic_search(conn, run, op, prepared, query)
        filter_sql, filter_params = prepared.sql or ("1", [])
        # Newest first. The namespace itself and its sub-namespaces are read as two
        # streams merged by seq: "prefix = ?" walks the (prefix, seq) index backwards
        # and stops at the page, where "prefix = ? OR range" would sort every match.
        scopes: list[tuple[str, list[Any]]] = []
        if op.namespace_prefix:
            joined = join_namespace(op.namespace_prefix)
            scopes.append(("prefix = ?", [joined]))
            scopes.append(("prefix >= ? AND prefix < ?", [joined + ".", joined + "/"]))
        else:
            scopes.append(("1", []))
        page = op.offset + op.limit
        limit = " LIMIT ?" if prepared.sql is not None else ""
        streams = [
            conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM store_items WHERE {scope} AND {_LIVE} "
                f"AND {filter_sql} ORDER BY seq DESC{limit}",
                [*scope_params, run.now, *filter_params, *([page] if limit else [])],
            )
            for scope, scope_params in scopes
        ]
        rows: Iterable[Any] = (
            streams[0] if len(streams) == 1 else heapq.merge(*streams, key=_seq, reverse=True)
        )
        pairs, skip = [], op.offset
        for row in rows:
            value = json.loads(row[3])
            # Filters SQL cannot express are evaluated here, newest first.
            if prepared.sql is None and prepared.predicate and not prepared.predicate(value):
                continue
            if skip:
                skip -= 1
                continue
            pairs.append((row, value))
            if len(pairs) >= op.limit:
                break
        return [self._search_item(run, op, row, value, None) for row, value in pairs]

    def _vector_index(self, conn: sqlite3.Connection, run: _Run, op: SearchOp) -> Any:
        """The in-process vectors, caught up with the file under the op's prefix."""
        assert self._vectors is not None
        run.index_touched = True
        if run.writing:
            _flush(conn, run)
            # Inside a write the batch's own uncommitted puts must be visible: force a check.
            return self._vectors.catch_up(conn, None, op.namespace_prefix, current=run.seq)
        return self._vectors.catch_up(conn, self._db.data_version(), op.namespace_prefix)

    def _keyword_search(
        self, conn: sqlite3.Connection, run: _Run, op: SearchOp, prepared: _Prepared
    ) -> list[SearchItem]:
        assert op.query is not None
        if run.writing:
            _flush(conn, run)
        hits = keyword_matches(
            conn, op.namespace_prefix, op.query, run.now, prepared.sql, prepared.predicate
        )
        page = [
            (hit.namespace, hit.key, hit.score) for hit in hits[op.offset : op.offset + op.limit]
        ]
        return self._items_of(conn, run, op, page)

    def _hybrid_search(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        op: SearchOp,
        prepared: _Prepared,
        query: Any,
    ) -> list[SearchItem]:
        assert op.query is not None
        index = self._vector_index(conn, run, op)
        need = op.offset + op.limit
        # Pages past the pool would come out short: widen it (fuse_hits' contract).
        pool = max(self._fusion.candidates, need)
        config = self._fusion
        if pool != config.candidates:
            config = FusionConfig(**{**config.__dict__, "candidates": pool})
        expired = any_expired(conn, op.namespace_prefix, run.now)
        keyword = keyword_matches(
            conn,
            op.namespace_prefix,
            op.query,
            run.now,
            prepared.sql,
            prepared.predicate,
            expired=expired,
        )
        vector = index.search(query, op.namespace_prefix, limit=pool)
        passing = self._passing(
            conn, run, prepared, [(ns, key) for ns, key, _ in vector], expired=expired
        )
        if len(passing) == len(vector):
            pass  # the common case: every candidate is live and passes the filter
        elif len(vector) < pool:
            vector = [hit for hit in vector if (hit[0], hit[1]) in passing]  # the whole scope
        else:
            # Some were filtered out: ask item by item, best first, to fill the pool.
            accept = self._acceptor(conn, run, prepared)
            vector = index.search(query, op.namespace_prefix, limit=pool, accept=accept)

        def similarity_of(
            addresses: Sequence[tuple[Namespace, str]],
        ) -> dict[tuple[Namespace, str], float]:
            found = index.search(
                query, op.namespace_prefix, limit=len(addresses), candidates=addresses
            )
            return {(ns, key): score for ns, key, score in found}

        fused = fuse_hits(vector, keyword, similarity_of, limit=need, config=config)
        return self._items_of(conn, run, op, fused[op.offset :])

    def _passing(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        prepared: _Prepared,
        addresses: list[tuple[Namespace, str]],
        *,
        expired: bool,
    ) -> set[tuple[Namespace, str]]:
        """Which of ``addresses`` are live and pass the search's filter (one query)."""
        if not prepared.tree.clauses and not expired:
            return set(addresses)  # the vector index holds only stored items: all live
        rows = _fetch_live(conn, addresses, run.now, prepared.sql)
        if prepared.sql is None and prepared.predicate is not None:
            predicate = prepared.predicate
            return {address for address, row in rows.items() if predicate(json.loads(row[3]))}
        return set(rows)

    def _acceptor(
        self, conn: sqlite3.Connection, run: _Run, prepared: _Prepared
    ) -> Callable[[Namespace, str], bool]:
        """Asked best first by the vector index: is this item live and does it pass the filter?"""
        where, params = prepared.sql if prepared.sql is not None else ("1", [])
        predicate = prepared.predicate if prepared.sql is None else None

        def accept(namespace: Namespace, key: str) -> bool:
            row = conn.execute(
                f"SELECT value FROM store_items WHERE prefix = ? AND key = ? AND {_LIVE} "
                f"AND {where}",
                (join_namespace(namespace), key, run.now, *params),
            ).fetchone()
            return row is not None and (predicate is None or predicate(json.loads(row[0])))

        return accept

    def _items_of(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        op: SearchOp,
        hits: Sequence[tuple[Namespace, str, float]],
    ) -> list[SearchItem]:
        """Search items for already-checked ``(namespace, key, score)`` hits, in order."""
        rows = _fetch_live(conn, [(ns, key) for ns, key, _ in hits], run.now)
        return [
            self._search_item(run, op, rows[(ns, key)], json.loads(rows[(ns, key)][3]), score)
            for ns, key, score in hits
            if (ns, key) in rows
        ]

    def _semantic_search(
        self,
        conn: sqlite3.Connection,
        run: _Run,
        op: SearchOp,
        prepared: _Prepared,
        query: Any,
    ) -> list[SearchItem]:
        index = self._vector_index(conn, run, op)
        predicate = prepared.predicate
        if predicate is None:
            # Usually every hit is live: fetch their rows in one query, and take the
            # item-by-item path below only if one expired (or vanished) meanwhile.
            hits = index.search(query, op.namespace_prefix, limit=op.limit, offset=op.offset)
            rows = _fetch_live(conn, [(ns, key) for ns, key, _ in hits], run.now)
            if len(rows) == len(hits):
                return [
                    self._search_item(run, op, row, json.loads(row[3]), score)
                    for (row, (_, _, score)) in zip(
                        (rows[(ns, key)] for ns, key, _ in hits), hits, strict=True
                    )
                ]
        fetched: dict[tuple[Namespace, str], tuple[Any, Any]] = {}

        def accept(namespace: Namespace, key: str) -> bool:
            row = conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM store_items WHERE prefix = ? AND key = ? AND {_LIVE}",
                (join_namespace(namespace), key, run.now),
            ).fetchone()
            if row is None:
                return False
            value = json.loads(row[3])
            if predicate is not None and not predicate(value):
                return False
            fetched[(namespace, key)] = (row, value)
            return True

        hits = index.search(
            query, op.namespace_prefix, limit=op.limit, offset=op.offset, accept=accept
        )
        return [
            self._search_item(run, op, *fetched[(namespace, key)], score)
            for namespace, key, score in hits
        ]

    def _search_item(
        self, run: _Run, op: SearchOp, row: Any, value: Any, score: float | None
    ) -> SearchItem:
        if op.refresh_ttl and row[6] is not None:
            run.refresh.append(row[0])
        return SearchItem(split_namespace(row[1]), row[2], value, row[4], row[5], score)

    def _list_namespaces(
        self, conn: sqlite3.Connection, run: _Run, op: ListNamespacesOp
    ) -> list[Namespace]:
        conditions = op.match_conditions or ()
        prefixes = conn.execute(
            f"SELECT DISTINCT prefix FROM store_items WHERE {_LIVE}", (run.now,)
        ).fetchall()
        found: set[Namespace] = set()
        for (prefix,) in prefixes:
            namespace = split_namespace(prefix)
            if all(_matches(namespace, c) for c in conditions):
                found.add(namespace[: op.max_depth] if op.max_depth is not None else namespace)
        return sorted(found)[op.offset : op.offset + op.limit]

    # --- TTL ---

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        self._ensure_ready()

        def sweep(conn: sqlite3.Connection) -> tuple[int, _Run]:
            run = _Run(now=self._clock(), writing=True)
            run.seq_before = run.seq = int(_meta(conn, "seq"))
            rows = conn.execute(
                "SELECT count(*) FROM store_items WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (run.now,),
            ).fetchone()[0]
            if rows:
                self._delete_where(
                    conn, run, "expires_at IS NOT NULL AND expires_at <= ?", [run.now]
                )
                conn.execute("UPDATE store_meta SET value = ? WHERE name = 'seq'", (run.seq,))
            _prune_removals(conn, run.now)
            return int(rows), run

        with self._db.lock:
            count, run = self._db.write(sweep)
            if self._vectors is not None:
                self._vectors.applied_own_write(run.seq_before, run.seq, run.changes)
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


# --- helpers --------------------------------------------------------------------


def _meta(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def _stored_dims(conn: sqlite3.Connection) -> int | None:
    dims = _meta(conn, "dims")
    return int(dims) if dims is not None else None


def _seq(row: Any) -> int:
    return int(row[7])


def _fetch_live(
    conn: sqlite3.Connection,
    addresses: list[tuple[Namespace, str]],
    now: float,
    where: tuple[str, list[Any]] | None = None,
) -> dict[tuple[Namespace, str], Any]:
    """The live rows of ``addresses`` (that also satisfy ``where``), by address, in one query."""
    found: dict[tuple[Namespace, str], Any] = {}
    filter_sql, filter_params = where if where is not None else ("1", [])
    # ORs of equalities use the address index; a row-value IN (VALUES ...) would scan.
    # In chunks: SQLite caps an expression's depth at 1000 (a search with a large limit).
    for start in range(0, len(addresses), _ADDRESSES_PER_QUERY):
        chunk = addresses[start : start + _ADDRESSES_PER_QUERY]
        pairs = " OR ".join("(prefix = ? AND key = ?)" for _ in chunk)
        params: list[Any] = [part for ns, key in chunk for part in (join_namespace(ns), key)]
        rows = conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM store_items WHERE ({pairs}) AND {_LIVE} AND {filter_sql}",
            [*params, now, *filter_params],
        )
        found.update(((split_namespace(row[1]), row[2]), row) for row in rows)
    return found


def _flush(conn: sqlite3.Connection, run: _Run) -> None:
    """Write the batch's pending puts (before anything that reads or deletes, and at the end)."""
    if run.pending_rows:
        conn.executemany(_UPSERT, run.pending_rows)
        run.pending_rows.clear()
    if run.pending_texts:
        texts = run.pending_texts.items()
        # The delete trigger takes each old row out of store_fts as well.
        conn.executemany(
            "DELETE FROM store_texts WHERE item_id = "
            "(SELECT id FROM store_items WHERE prefix = ? AND key = ?)",
            [address for address, _ in texts],
        )
        conn.executemany(
            "INSERT INTO store_texts (item_id, prefix, key, scope, body, length) "
            "SELECT id, prefix, key, ?, ?, ? FROM store_items WHERE prefix = ? AND key = ?",
            [
                (scope_tokens(split_namespace(address[0])), body, body.count(" ") + 1, *address)
                for address, bodies in texts
                for body in bodies
            ],
        )
        run.pending_texts.clear()
    if not run.pending_vectors:
        return
    pending = run.pending_vectors.items()
    conn.executemany(
        "DELETE FROM store_vectors WHERE item_id = "
        "(SELECT id FROM store_items WHERE prefix = ? AND key = ?)",
        [address for address, blob in pending if blob is None],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO store_vectors (item_id, vectors) "
        "SELECT id, ? FROM store_items WHERE prefix = ? AND key = ?",
        [(blob, *address) for address, blob in pending if blob is not None],
    )
    run.pending_vectors.clear()


def _refresh_ttl(conn: sqlite3.Connection, ids: list[int], now: float) -> None:
    conn.executemany(
        "UPDATE store_items SET expires_at = ? + ttl_minutes * 60.0 "
        "WHERE id = ? AND ttl_minutes IS NOT NULL",
        [(now, item_id) for item_id in ids],
    )


def _prune_removals(conn: sqlite3.Connection, now: float) -> None:
    (oldest_kept,) = conn.execute(
        "SELECT max(seq) FROM store_removals WHERE removed_at < ?", (now - _REMOVALS_KEPT_S,)
    ).fetchone()
    if oldest_kept is None:
        return
    conn.execute("DELETE FROM store_removals WHERE seq <= ?", (oldest_kept,))
    # Readers whose index predates this seq can no longer catch up incrementally.
    conn.execute(
        "UPDATE store_meta SET value = max(value, ?) WHERE name = 'removals_floor'", (oldest_kept,)
    )


def _matches(namespace: Namespace, condition: MatchCondition) -> bool:
    path = condition.path
    if len(path) > len(namespace):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == label for p, label in zip(path, labels, strict=True))


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


def _to_embed(ops: list[Op], prepared: dict[int, _Prepared]) -> list[Op]:
    """``ops`` as the embedder should see them: keyword searches embed no query."""
    return [
        op._replace(query=None)
        if isinstance(op, SearchOp) and op.query is not None and prepared[i].mode == "keyword"
        else op
        for i, op in enumerate(ops)
    ]
