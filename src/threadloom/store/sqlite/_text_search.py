"""The SQLite store's keyword index: FTS5 over our own terms, scored as BM25 in Python.

Each indexed text of an item is one row of ``store_texts`` holding
:func:`~threadloom.store._text.index_text` of it (the terms, space-joined)
and its length in terms; triggers keep the external-content FTS5 table
``store_fts`` in step, inside the writing transaction. A search:

1. turns the query into a quoted-terms ``MATCH`` expression
   (:func:`~threadloom.store._text.fts5_match_expression`), so FTS5 and SQL
   operator syntax in a query is plain text and can never raise;
2. reads every live row under the searched prefix that shares a term with
   the query, and the scope's row count and total length (an index range on
   ``store_texts.prefix``). The prefix is part of the ``MATCH`` too: each row's
   ``scope`` column holds one token per namespace prefix of its item (a hash,
   :func:`scope_token`), so FTS5 intersects the term postings with the
   prefix's and one user's search never reads other users' matches;
3. scores them with :func:`~threadloom.store._keyword.score_matches`, the same
   BM25 as the in-memory index, bit for bit. Document frequencies come from
   the matched rows themselves: a row containing a query term always matches
   the ``OR`` of the terms, so counting them there is exact.

Each put records its item's indexed paths, and while the index is live in
the file it also writes the item's keyword rows. :func:`build_keyword_index`
makes the index live, indexing every item already in the file in one write
transaction: ``setup()`` of a store whose ``search_mode`` is ``"keyword"`` or
``"hybrid"`` calls it (so no search of it pays for the build). From then on
every writer, in any process, keeps it in step. A ``"vector"`` store's puts
write no keyword rows: :func:`catch_up_keyword_rows` indexes the items written
since its last call (``keyword_seq`` in ``store_meta``), from a background
thread (``_keyword_fill``) and before each keyword search.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal

from threadloom.store._jsontext import loads as load_json
from threadloom.store._keyword import KeywordHit, score_matches
from threadloom.store._text import fts5_match_expression, index_text, query_terms
from threadloom.store.base import get_text_at_path
from threadloom.store.sqlite._sql import any_expired, join_namespace, prefix_where, split_namespace

__all__ = [
    "bodies_at",
    "build_keyword_index",
    "catch_up_keyword_rows",
    "create_keyword_index",
    "defer_keyword_index",
    "index_paths",
    "keyword_index_live",
    "keyword_matches",
    "keyword_rows_behind",
    "keyword_rows_seq",
    "mark_keyword_rows",
    "scope_token",
    "scope_tokens",
]

Namespace = tuple[str, ...]
_LIVE = "(i.expires_at IS NULL OR i.expires_at > ?)"


def create_keyword_index(conn: sqlite3.Connection) -> None:
    """Schema version 2: the keyword index (statements one by one: triggers hold ';')."""
    for statement in (
        """CREATE TABLE store_texts (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL,
            prefix TEXT NOT NULL,
            key TEXT NOT NULL,
            scope TEXT NOT NULL,
            body TEXT NOT NULL,
            length INTEGER NOT NULL
        )""",
        "CREATE INDEX store_texts_item ON store_texts (item_id)",
        # Covering: a scope's row count and total length never read the table.
        "CREATE INDEX store_texts_prefix ON store_texts (prefix, item_id, length)",
        "CREATE VIRTUAL TABLE store_fts "
        "USING fts5(body, scope, content='store_texts', content_rowid='id')",
        """CREATE TRIGGER store_texts_insert AFTER INSERT ON store_texts BEGIN
            INSERT INTO store_fts (rowid, body, scope) VALUES (new.id, new.body, new.scope);
        END""",
        """CREATE TRIGGER store_texts_delete AFTER DELETE ON store_texts BEGIN
            INSERT INTO store_fts (store_fts, rowid, body, scope)
            VALUES ('delete', old.id, old.body, old.scope);
        END""",
        # Items written before this version have no keyword rows yet: they are
        # built when a search first needs them (see build_keyword_index).
        "INSERT INTO store_meta (name, value) "
        "SELECT 'keyword_backfill', 1 WHERE EXISTS (SELECT 1 FROM store_items)",
    ):
        conn.execute(statement)


@lru_cache(maxsize=4096)
def scope_token(namespace_prefix: Namespace) -> str:
    """The FTS5 token standing for one namespace prefix: letters and digits only."""
    digest = hashlib.blake2b(join_namespace(namespace_prefix).encode(), digest_size=8)
    return "ns" + digest.hexdigest()


@lru_cache(maxsize=4096)
def scope_tokens(namespace: Namespace) -> str:
    """A row's ``scope`` column: the tokens of every non-empty prefix of its namespace."""
    return " ".join(scope_token(namespace[:depth]) for depth in range(1, len(namespace) + 1))


def defer_keyword_index(conn: sqlite3.Connection) -> None:
    """Schema version 3: the keyword index is kept only once a search needs it.

    Each item records the paths its keyword rows come from (``index_paths``),
    so the index can be built later from the items alone. ``keyword_index``
    in ``store_meta`` says the index is live: every writer then keeps it in
    step. A file whose items all have keyword rows starts live; a new file, or
    one still waiting for the version 2 backfill, starts deferred.
    """
    conn.execute("ALTER TABLE store_items ADD COLUMN index_paths TEXT")
    conn.execute(
        "INSERT INTO store_meta (name, value) SELECT 'keyword_index', 1 "
        "WHERE EXISTS (SELECT 1 FROM store_items) "
        "AND NOT EXISTS (SELECT 1 FROM store_meta WHERE name = 'keyword_backfill')"
    )
    conn.execute("DELETE FROM store_meta WHERE name = 'keyword_backfill'")


def keyword_index_live(conn: sqlite3.Connection) -> bool:
    """Whether writers keep the keyword index in step (it is never switched off again)."""
    row = conn.execute("SELECT value FROM store_meta WHERE name = 'keyword_index'").fetchone()
    return bool(row and row[0])


def build_keyword_index(
    conn: sqlite3.Connection, fields: Sequence[str], *, vectors_only: bool
) -> int | None:
    """Make the keyword index live, indexing every item; returns how many (None: it was live).

    Each item is indexed from the paths recorded when it was put. Items from
    before those were recorded use ``fields``, and with ``vectors_only`` only
    those that have vectors (an item put with ``index=False`` has none).
    """
    mark = keyword_rows_seq(conn)
    if mark is None:
        return None
    if mark >= 0:
        # A "vector" store keeps the rows caught up (catch_up_keyword_rows): finish that.
        catch_up_keyword_rows(conn, fields, vectors_only=vectors_only)
        count = int(conn.execute("SELECT count(*) FROM store_items").fetchone()[0])
        conn.execute("INSERT OR REPLACE INTO store_meta (name, value) VALUES ('keyword_index', 1)")
        conn.execute("DELETE FROM store_meta WHERE name = 'keyword_seq'")
        return count
    if conn.execute("SELECT 1 FROM store_texts LIMIT 1").fetchone() is not None:
        conn.execute("DELETE FROM store_texts")  # partial rows of an interrupted backfill
    rows = conn.execute(
        "SELECT i.id, i.prefix, i.key, i.value, i.index_paths, v.item_id IS NOT NULL "
        "FROM store_items i LEFT JOIN store_vectors v ON v.item_id = i.id"
    ).fetchall()
    _insert_texts(conn, rows, fields, vectors_only)
    conn.execute("INSERT OR REPLACE INTO store_meta (name, value) VALUES ('keyword_index', 1)")
    conn.execute("DELETE FROM store_meta WHERE name = 'keyword_seq'")
    return len(rows)


def _keyword_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return dict(
        conn.execute(
            "SELECT name, value FROM store_meta "
            "WHERE name IN ('seq', 'keyword_seq', 'keyword_index')"
        ).fetchall()
    )


def keyword_rows_behind(conn: sqlite3.Connection) -> bool:
    """Whether items were written since the keyword rows were last caught up (never when live)."""
    found = _keyword_meta(conn)
    if found.get("keyword_index"):
        return False
    return int(found.get("keyword_seq", -1)) < int(found["seq"])


def keyword_rows_seq(conn: sqlite3.Connection) -> int | None:
    """The ``seq`` up to which every item has its keyword rows; ``None`` when the index is live
    (every item always has them)."""
    found = _keyword_meta(conn)
    if found.get("keyword_index"):
        return None
    return int(found.get("keyword_seq", -1))


def catch_up_keyword_rows(
    conn: sqlite3.Connection,
    fields: Sequence[str],
    *,
    vectors_only: bool,
    limit: int | None = None,
    seq: int | None = None,
) -> bool:
    """Index the items written since the last catch-up, oldest ``seq`` first; whether all are.

    For a file whose index is not live (a ``"vector"`` store's: its puts write no
    keyword rows). ``keyword_seq`` in ``store_meta`` is the ``seq`` up to which
    every item has its rows: an item put again since has a newer ``seq``, so its
    stale rows are replaced here, and a removed item's rows went with it. At most
    ``limit`` items per call, so a background catch-up holds the write lock only
    briefly. ``seq``: the file's ``seq`` when the caller has read it already.
    """
    mark = keyword_rows_seq(conn)
    if mark is None:
        return True
    if mark < 0 and conn.execute("SELECT 1 FROM store_texts LIMIT 1").fetchone() is not None:
        conn.execute("DELETE FROM store_texts")  # rows of an interrupted earlier build
    if seq is None:
        seq = int(conn.execute("SELECT value FROM store_meta WHERE name = 'seq'").fetchone()[0])
    if mark >= seq:
        return True
    query = (
        "SELECT i.id, i.prefix, i.key, i.value, i.index_paths, v.item_id IS NOT NULL, i.seq "
        "FROM store_items i LEFT JOIN store_vectors v ON v.item_id = i.id "
        "WHERE i.seq > ? ORDER BY i.seq"
    )
    params: list[Any] = [mark]
    if limit is not None:
        query += " LIMIT ?"
        params.append(limit)
    rows = conn.execute(query, params).fetchall()
    done = limit is None or len(rows) < limit
    conn.executemany("DELETE FROM store_texts WHERE item_id = ?", [(row[0],) for row in rows])
    _insert_texts(conn, [row[:6] for row in rows], fields, vectors_only)
    reached = seq if done else rows[-1][6]
    conn.execute(
        "INSERT OR REPLACE INTO store_meta (name, value) VALUES ('keyword_seq', ?)", (reached,)
    )
    return done


def mark_keyword_rows(conn: sqlite3.Connection, seq: int) -> None:
    """Record that every item up to ``seq`` has its keyword rows (a write that kept them)."""
    conn.execute("INSERT OR REPLACE INTO store_meta (name, value) VALUES ('keyword_seq', ?)", (seq,))


def _insert_texts(
    conn: sqlite3.Connection, rows: list[Any], fields: Sequence[str], vectors_only: bool
) -> None:
    """Write the keyword rows of items given as ``(id, prefix, key, value, index_paths,
    has_vectors)``.

    Each item is indexed from the paths recorded when it was put. Items from
    before those were recorded use ``fields``, and with ``vectors_only`` only
    those that have vectors (an item put with ``index=False`` has none).
    """
    texts: list[tuple[int, str, str, str, str, int]] = []
    scopes: dict[str, str] = {}
    for item_id, prefix, key, value, recorded, has_vectors in rows:
        if recorded is not None:
            paths: Sequence[str] = json.loads(recorded)
        elif vectors_only and not has_vectors:
            continue
        else:
            paths = fields
        if not paths:
            continue
        scope = scopes.get(prefix)
        if scope is None:
            scope = scopes[prefix] = scope_tokens(split_namespace(prefix))
        texts.extend(
            (item_id, prefix, key, scope, body, body.count(" ") + 1)
            for body in bodies_at(load_json(value), paths)
        )
    conn.executemany(
        "INSERT INTO store_texts (item_id, prefix, key, scope, body, length) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        texts,
    )


def index_paths(
    index: Literal[False] | list[str] | None, fields: Sequence[str] | None
) -> list[str]:
    """The paths a put's keyword rows come from, given its ``index`` argument: none for
    ``index=False`` or a store without keyword fields, the put's own paths, or else the
    store's ``fields``."""
    if fields is None or index is False:
        return []
    return list(fields if index is None else index)


def bodies_at(value: dict[str, Any], paths: Sequence[str]) -> list[str]:
    """``index_text`` of each text at ``paths`` in ``value``; texts without terms are left out
    (they can never match)."""
    bodies = []
    for path in paths:
        for text in get_text_at_path(value, path):
            body = index_text(text)
            if body:
                bodies.append(body)
    return bodies


def keyword_matches(
    conn: sqlite3.Connection,
    prefix: Namespace,
    query: str,
    now: float,
    where: tuple[str, list[Any]] | None,
    predicate: Callable[[Any], bool] | None,
    *,
    expired: bool | None = None,
) -> list[KeywordHit]:
    """Every live item under ``prefix`` that passes the filter and shares a term, best first.

    ``where`` is the filter as SQL over ``value`` (``None``: evaluate
    ``predicate`` on each matched value instead). Statistics (row count, total
    length, document frequencies) are those of the live rows under
    ``prefix``, whatever the filter. ``expired``: whether the caller already
    knows if an expired item lies under ``prefix`` (:func:`any_expired`).
    """
    terms_expression = fts5_match_expression(query)
    if terms_expression is None:
        return []
    expression = f"body : ({terms_expression})"
    if prefix:
        expression += f' AND scope : "{scope_token(prefix)}"'
    scope_sql, scope_params = prefix_where(prefix, column="t.prefix")
    n_docs, total_len = conn.execute(
        f"SELECT count(*), coalesce(sum(t.length), 0) FROM store_texts t WHERE {scope_sql}",
        scope_params,
    ).fetchone()
    if expired is None:
        expired = any_expired(conn, prefix, now)
    if expired:
        # Expired items not yet swept are gone for searches, statistics included.
        expired_docs, expired_len = conn.execute(
            "SELECT count(*), coalesce(sum(t.length), 0) FROM store_items i "
            "JOIN store_texts t ON t.item_id = i.id "
            f"WHERE i.expires_at IS NOT NULL AND i.expires_at <= ? AND {scope_sql}",
            [now, *scope_params],
        ).fetchone()
        n_docs, total_len = n_docs - expired_docs, total_len - expired_len
    if not n_docs:
        return []
    unfiltered = predicate is None and (where is None or where == ("1", []))
    if unfiltered and not expired:
        # Nothing to check on the items themselves: the text rows say it all.
        rows = conn.execute(
            "SELECT t.prefix, t.key, t.body, 1, NULL "
            "FROM store_fts JOIN store_texts t ON t.id = store_fts.rowid "
            f"WHERE store_fts MATCH ? AND {scope_sql}",
            [expression, *scope_params],
        ).fetchall()
    else:
        filter_sql, filter_params = where if where is not None else ("1", [])
        value_column = "i.value" if where is None and predicate is not None else "NULL"
        rows = conn.execute(
            f"SELECT t.prefix, t.key, t.body, COALESCE({filter_sql}, 0), {value_column} "
            "FROM store_fts JOIN store_texts t ON t.id = store_fts.rowid "
            "JOIN store_items i ON i.id = t.item_id "
            f"WHERE store_fts MATCH ? AND {scope_sql} AND {_LIVE}",
            [*filter_params, expression, *scope_params, now],
        ).fetchall()
    wanted = set(query_terms(query))
    doc_freq: Counter[str] = Counter()
    matches: list[tuple[Namespace, str, str]] = []
    namespaces: dict[str, Namespace] = {}
    for stored_prefix, key, body, passes, value in rows:
        doc_freq.update(wanted.intersection(body.split(" ")))
        if not passes:
            continue
        if where is None and predicate is not None and not predicate(load_json(value)):
            continue
        namespace = namespaces.get(stored_prefix)
        if namespace is None:
            namespace = namespaces[stored_prefix] = split_namespace(stored_prefix)
        matches.append((namespace, key, body))
    return score_matches(query, matches, n_docs=n_docs, total_len=total_len, doc_freq=doc_freq)
