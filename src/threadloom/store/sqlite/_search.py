"""The SQLite store's searches: newest first, by vector, by keyword (FTS5 + BM25) and hybrid.

:class:`Searches` is mixed into :class:`~threadloom.store.sqlite.SqliteStore`;
each method runs inside the batch's transaction on its connection.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from threadloom._sqlite import Database
from threadloom.store._fusion import FusionConfig, fuse_hits
from threadloom.store._hybrid import fuse_in_memory
from threadloom.store._jsontext import loads as load_json
from threadloom.store._keyword import KeywordHit, KeywordIndex
from threadloom.store.base import SearchItem, SearchOp
from threadloom.store.sqlite._batch import (
    ITEM_COLUMNS,
    LIVE,
    Namespace,
    Prepared,
    Run,
    fetch_live,
    flush,
    seq_of,
)
from threadloom.store.sqlite._keyword_sync import SyncedKeywords
from threadloom.store.sqlite._sql import any_expired, join_namespace, readable, split_namespace
from threadloom.store.sqlite._text_search import keyword_matches
from threadloom.store.sqlite._vector_sync import SyncedVectors

__all__ = ["Searches"]


class Searches:
    """The search half of :class:`~threadloom.store.sqlite.SqliteStore` (a mixin)."""

    _db: Database
    _fusion: FusionConfig
    _vectors: SyncedVectors | None
    _keywords: SyncedKeywords | None
    _keyword_rows_ready: bool

    def _search(
        self,
        conn: sqlite3.Connection,
        run: Run,
        op: SearchOp,
        prepared: Prepared,
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
                f"SELECT {ITEM_COLUMNS} FROM store_items WHERE {scope} AND {LIVE} "
                f"AND {filter_sql} ORDER BY seq DESC{limit}",
                [*scope_params, run.now, *filter_params, *([page] if limit else [])],
            )
            for scope, scope_params in scopes
        ]
        rows: Iterable[Any] = (
            streams[0] if len(streams) == 1 else heapq.merge(*streams, key=seq_of, reverse=True)
        )
        pairs, skip = [], op.offset
        for row in rows:
            value = load_json(row[3])
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

    def _vector_index(self, conn: sqlite3.Connection, run: Run, op: SearchOp) -> Any:
        """The in-process vectors, caught up with the file under the op's prefix."""
        assert self._vectors is not None
        run.index_touched = True
        if run.writing:
            flush(conn, run)
            # Inside a write the batch's own uncommitted puts must be visible: force a check.
            return self._vectors.catch_up(conn, None, op.namespace_prefix, current=run.seq)
        return self._vectors.catch_up(conn, self._data_version(run), op.namespace_prefix)

    def _keyword_index(
        self,
        conn: sqlite3.Connection,
        run: Run,
        prefix: Namespace,
        prepared: Prepared,
        expired: bool,
    ) -> KeywordIndex | None:
        """The in-process keyword index, caught up with the file, when it can answer.

        It can when the search has no filter and nothing under its prefix has
        expired unswept (both change which rows count); otherwise ``None``, and
        FTS5 answers (:func:`keyword_matches`).
        """
        if (
            self._keywords is None
            or not self._keyword_rows_ready
            or expired
            or prepared.tree.clauses
            or prepared.predicate is not None
        ):
            return None
        run.index_touched = True
        if run.writing:
            flush(conn, run)
            # Inside a write the batch's own uncommitted puts must be visible: force a check.
            return self._keywords.catch_up(conn, None, prefix, current=run.seq)
        return self._keywords.catch_up(conn, self._data_version(run), prefix)

    def _data_version(self, run: Run) -> int:
        """The file's data version, read once per batch: a hybrid search checks both
        in-process indexes against the same one."""
        if run.data_version is None:
            run.data_version = self._db.data_version()
        return run.data_version

    def _keyword_hits(
        self,
        conn: sqlite3.Connection,
        run: Run,
        op: SearchOp,
        prepared: Prepared,
        *,
        expired: bool,
        limit: int | None = None,
    ) -> list[KeywordHit]:
        """Live items under the prefix that pass the filter and share a term, best first
        (the best ``limit``, or all of them)."""
        assert op.query is not None
        index = self._keyword_index(conn, run, op.namespace_prefix, prepared, expired)
        if index is not None:
            return index.search(op.namespace_prefix, op.query, limit=limit)
        if run.writing:
            flush(conn, run)
        hits = keyword_matches(
            conn,
            op.namespace_prefix,
            op.query,
            run.now,
            prepared.sql,
            prepared.predicate,
            expired=expired,
        )
        return hits if limit is None else hits[:limit]

    def _keyword_search(
        self, conn: sqlite3.Connection, run: Run, op: SearchOp, prepared: Prepared
    ) -> list[SearchItem]:
        expired = any_expired(conn, op.namespace_prefix, run.now)
        hits = self._keyword_hits(
            conn, run, op, prepared, expired=expired, limit=op.offset + op.limit
        )
        page = [(hit.namespace, hit.key, hit.score) for hit in hits[op.offset :]]
        return self._items_of(conn, run, op, page)

    def _hybrid_search(
        self,
        conn: sqlite3.Connection,
        run: Run,
        op: SearchOp,
        prepared: Prepared,
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
        keywords = self._keyword_index(conn, run, op.namespace_prefix, prepared, expired)
        if keywords is not None:
            # No filter and nothing expired: every indexed item counts, and both
            # indexes are in memory; fuse on their item ids.
            fused = fuse_in_memory(
                index, keywords, query, op.query, op.namespace_prefix, limit=need, config=config
            )
            return self._items_of(conn, run, op, fused[op.offset :])
        vector = index.search(query, op.namespace_prefix, limit=pool)
        keyword = self._keyword_hits(conn, run, op, prepared, expired=expired)
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
            return index.scores_of(query, addresses)

        fused = fuse_hits(vector, keyword, similarity_of, limit=need, config=config)
        return self._items_of(conn, run, op, fused[op.offset :])

    def _passing(
        self,
        conn: sqlite3.Connection,
        run: Run,
        prepared: Prepared,
        addresses: list[tuple[Namespace, str]],
        *,
        expired: bool,
    ) -> set[tuple[Namespace, str]]:
        """Which of ``addresses`` are live and pass the search's filter (one query)."""
        if not prepared.tree.clauses and not expired:
            return set(addresses)  # the vector index holds only stored items: all live
        rows = fetch_live(conn, addresses, run.now, prepared.sql)
        if prepared.sql is None and prepared.predicate is not None:
            predicate = prepared.predicate
            return {address for address, row in rows.items() if predicate(load_json(row[3]))}
        return set(rows)

    def _acceptor(
        self, conn: sqlite3.Connection, run: Run, prepared: Prepared
    ) -> Callable[[Namespace, str], bool]:
        """Asked best first by the vector index: is this item live and does it pass the filter?"""
        where, params = prepared.sql if prepared.sql is not None else ("1", [])
        predicate = prepared.predicate if prepared.sql is None else None

        def accept(namespace: Namespace, key: str) -> bool:
            row = conn.execute(
                f"SELECT value FROM store_items WHERE prefix = ? AND key = ? AND {LIVE} "
                f"AND {where}",
                (join_namespace(namespace), key, run.now, *params),
            ).fetchone()
            return row is not None and (predicate is None or predicate(load_json(row[0])))

        return accept

    def _items_of(
        self,
        conn: sqlite3.Connection,
        run: Run,
        op: SearchOp,
        hits: Sequence[tuple[Namespace, str, float]],
    ) -> list[SearchItem]:
        """Search items for already-checked ``(namespace, key, score)`` hits, in order."""
        rows = fetch_live(conn, [(ns, key) for ns, key, _ in hits], run.now)
        return [
            self._search_item(run, op, rows[(ns, key)], load_json(rows[(ns, key)][3]), score)
            for ns, key, score in hits
            if (ns, key) in rows
        ]

    def _semantic_search(
        self,
        conn: sqlite3.Connection,
        run: Run,
        op: SearchOp,
        prepared: Prepared,
        query: Any,
    ) -> list[SearchItem]:
        index = self._vector_index(conn, run, op)
        predicate = prepared.predicate
        if predicate is None:
            # Usually every hit is live: fetch their rows in one query, and take the
            # item-by-item path below only if one expired (or vanished) meanwhile.
            hits = index.search(query, op.namespace_prefix, limit=op.limit, offset=op.offset)
            rows = fetch_live(conn, [(ns, key) for ns, key, _ in hits], run.now)
            if len(rows) == len(hits):
                return [
                    self._search_item(run, op, row, load_json(row[3]), score)
                    for (row, (_, _, score)) in zip(
                        (rows[(ns, key)] for ns, key, _ in hits), hits, strict=True
                    )
                ]
        fetched: dict[tuple[Namespace, str], tuple[Any, Any]] = {}

        def accept(namespace: Namespace, key: str) -> bool:
            row = conn.execute(
                f"SELECT {ITEM_COLUMNS} FROM store_items WHERE prefix = ? AND key = ? AND {LIVE}",
                (join_namespace(namespace), key, run.now),
            ).fetchone()
            if row is None:
                return False
            value = load_json(row[3])
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
        self, run: Run, op: SearchOp, row: Any, value: Any, score: float | None
    ) -> SearchItem:
        if op.refresh_ttl and row[6] is not None:
            run.refresh.append(row[0])
        return SearchItem(split_namespace(row[1]), row[2], value, row[4], row[5], score)
