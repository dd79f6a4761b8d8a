"""What one batch of the SQLite store carries through its transaction, and the SQL it writes with.

:class:`Prepared` is a search's filter parsed once; :class:`Run` collects a
batch's pending writes, flushed by :func:`flush` with a few ``executemany``
calls (items, keyword rows, vectors) before anything reads them and at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from threadloom.store._filters import AllOf
from threadloom.store.base import Op, SearchOp
from threadloom.store.sqlite._keyword_sync import KeywordChange
from threadloom.store.sqlite._sql import join_namespace, split_namespace
from threadloom.store.sqlite._text_search import scope_tokens
from threadloom.store.sqlite._vector_sync import VectorChange

__all__ = [
    "EPOCH",
    "ITEM_COLUMNS",
    "LIVE",
    "UPSERT",
    "Namespace",
    "Prepared",
    "Run",
    "fetch_live",
    "flush",
    "meta",
    "prune_removals",
    "refresh_ttl",
    "seq_of",
    "stored_dims",
    "to_embed",
]

Namespace = tuple[str, ...]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LIVE = "(expires_at IS NULL OR expires_at > ?)"
ITEM_COLUMNS = "id, prefix, key, value, created_at, updated_at, ttl_minutes, seq"
#: Addresses looked up per statement (SQLite caps expression depth at 1000).
_ADDRESSES_PER_QUERY = 400
#: Removal-log entries older than this are pruned; a reader further behind reloads.
_REMOVALS_KEPT_S = 3600.0
UPSERT = """
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
class Prepared:
    """A search's filter, parsed once: SQL when it can be, a Python predicate otherwise."""

    tree: AllOf
    predicate: Callable[[Any], bool] | None
    sql: tuple[str, list[Any]] | None
    mode: str = "vector"
    #: Whether the search reads the keyword index (a query in keyword or hybrid mode).
    keywords: bool = False


@dataclass
class Run:
    """What one batch did, for after its transaction."""

    now: float
    writing: bool
    seq_before: int = 0
    seq: int = 0
    stamp: datetime = EPOCH
    stamp_text: str = ""
    # Whether the file's keyword index is live (then puts write keyword rows).
    keyword_live: bool = False
    # The batch searches by keyword (so a "vector" store's puts in it keep rows too),
    # and whether it caught the rows up (then it records them as complete at its end).
    keyword_search: bool = False
    keywords_marked: bool = False
    # Puts not yet sent to SQLite, written with two executemany calls by flush:
    # the rows, then each address's vectors (the blob, or None to clear; last wins).
    pending_rows: list[tuple[Any, ...]] = field(default_factory=list)
    pending_vectors: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    # Each put address's keyword-index bodies (an empty list clears them; last wins).
    pending_texts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    changes: list[VectorChange] = field(default_factory=list)
    # Each put's keyword bodies (None: removed), for the in-process keyword index.
    text_changes: list[KeywordChange] = field(default_factory=list)
    refresh: list[int] = field(default_factory=list)
    removed: bool = False
    dims_checked: bool = False
    index_touched: bool = False
    # PRAGMA data_version as this read saw it first (both in-process indexes ask).
    data_version: int | None = None


def meta(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def stored_dims(conn: sqlite3.Connection) -> int | None:
    dims = meta(conn, "dims")
    return int(dims) if dims is not None else None


def seq_of(row: Any) -> int:
    return int(row[7])


def fetch_live(
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
            f"SELECT {ITEM_COLUMNS} FROM store_items WHERE ({pairs}) AND {LIVE} AND {filter_sql}",
            [*params, now, *filter_params],
        )
        found.update(((split_namespace(row[1]), row[2]), row) for row in rows)
    return found


def flush(conn: sqlite3.Connection, run: Run) -> None:
    """Write the batch's pending puts (before anything that reads or deletes, and at the end)."""
    if run.pending_rows:
        conn.executemany(UPSERT, run.pending_rows)
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


def refresh_ttl(conn: sqlite3.Connection, ids: list[int], now: float) -> None:
    conn.executemany(
        "UPDATE store_items SET expires_at = ? + ttl_minutes * 60.0 "
        "WHERE id = ? AND ttl_minutes IS NOT NULL",
        [(now, item_id) for item_id in ids],
    )


def prune_removals(conn: sqlite3.Connection, now: float) -> None:
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


def to_embed(ops: list[Op], prepared: dict[int, Prepared]) -> list[Op]:
    """``ops`` as the embedder should see them: keyword searches embed no query."""
    return [
        op._replace(query=None)
        if isinstance(op, SearchOp) and op.query is not None and prepared[i].mode == "keyword"
        else op
        for i, op in enumerate(ops)
    ]
