"""The SQLite store's tables, as migrations (position in the list = schema version).

``store_items`` holds one row per live item; ``seq`` is a store-wide counter
bumped by every put, so "newest first" is ``ORDER BY seq DESC`` and another
process's in-memory vector index can catch up with ``WHERE seq > ?``.
``store_vectors`` keeps each item's vectors as one float32 BLOB (``n x dims``
unit rows), apart from the items so that scans of values never read vectors.
``store_removals`` logs deleted addresses with their ``seq`` for the same
catch-up; entries older than an hour are pruned and ``removals_floor`` tells
a reader that fell further behind to reload everything instead.
``store_meta`` keeps the counters and the vectors' ``dims``.
``store_texts`` and the FTS5 table ``store_fts`` (version 2) are the keyword
index, described in ``_text_search``; version 3 records each item's indexed
paths (``index_paths``) so that index can be built when a search first needs it.
"""

from __future__ import annotations

from threadloom._sqlite import Migration
from threadloom.store.sqlite._text_search import create_keyword_index, defer_keyword_index

__all__ = ["COMPONENT", "MIGRATIONS"]

#: The name under which the store's schema version is recorded.
COMPONENT = "store"

MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE store_items (
        id INTEGER PRIMARY KEY,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ttl_minutes REAL,
        expires_at REAL
    );
    CREATE UNIQUE INDEX store_items_address ON store_items (prefix, key);
    CREATE INDEX store_items_prefix_seq ON store_items (prefix, seq);
    CREATE INDEX store_items_seq ON store_items (seq);
    CREATE INDEX store_items_expiry ON store_items (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE store_vectors (
        item_id INTEGER PRIMARY KEY,
        vectors BLOB NOT NULL
    );
    CREATE TABLE store_removals (
        seq INTEGER NOT NULL,
        removed_at REAL NOT NULL,
        prefix TEXT NOT NULL,
        key TEXT NOT NULL
    );
    CREATE INDEX store_removals_seq ON store_removals (seq);
    CREATE INDEX store_removals_age ON store_removals (removed_at);
    CREATE TABLE store_meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
    INSERT INTO store_meta (name, value) VALUES ('seq', 0), ('stamp', 0), ('removals_floor', 0);
    """,
    create_keyword_index,
    defer_keyword_index,
]
