"""Tables of the PostgreSQL store, as migrations (position in the list = version).

Items live in ``threadloom_store``; their vectors in
``threadloom_store_vectors``, whose column type depends on the index
configuration (``vector(dims)`` or ``halfvec(dims)``), so it has its own
migration component created only by stores with an index.

A namespace is stored as its labels joined by ``.`` (labels may not contain
``.``) in a ``COLLATE "C"`` column: a prefix search is then a btree range,
``ns = p OR (ns >= p || '.' AND ns < p || '/')`` (``/`` follows ``.`` in
byte order), with no ``LIKE`` pattern to escape.

The keyword index (version 4) keeps one row per indexed text of an item in
``threadloom_store_texts``: its terms (``index_text``), their count and a
generated ``tsvector`` under a GIN index. The foreign key cascades, so
deletes, TTL sweeps and ``delete_namespace`` clean it with the items.
Version 5 keeps each namespace's keyword-row count and total length in
``threadloom_store_text_stats``, by triggers, for BM25's scope statistics.
Version 6 turns off the GIN index's pending list (``fastupdate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from psycopg import sql

from threadloom._postgres import SQL, Migration

__all__ = ["DISTANCES", "ITEM_MIGRATIONS", "VectorLayout"]

ITEM_MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE IF NOT EXISTS threadloom_store (
        namespace text COLLATE "C" NOT NULL,
        key text NOT NULL,
        value jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        expires_at timestamptz,
        ttl_minutes double precision,
        PRIMARY KEY (namespace, key)
    )
    """,
    "CREATE INDEX IF NOT EXISTS threadloom_store_updated ON threadloom_store (updated_at DESC)",
    """
    CREATE INDEX IF NOT EXISTS threadloom_store_expires ON threadloom_store (expires_at)
    WHERE expires_at IS NOT NULL
    """,
    lambda: _KEYWORD_INDEX,
    lambda: _KEYWORD_STATS,
    lambda: _KEYWORD_INDEX_DIRECT,
]

_KEYWORD_INDEX: list[SQL] = [
    """
    CREATE TABLE IF NOT EXISTS threadloom_store_texts (
        namespace text COLLATE "C" NOT NULL,
        key text NOT NULL,
        seq integer NOT NULL,
        body text NOT NULL,
        length integer NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
        PRIMARY KEY (namespace, key, seq),
        FOREIGN KEY (namespace, key) REFERENCES threadloom_store (namespace, key)
            ON DELETE CASCADE
    )
    """,
    "CREATE INDEX IF NOT EXISTS threadloom_store_texts_tsv ON threadloom_store_texts USING gin (tsv)",
    # Counted a scope's rows until version 5 (which drops it): migrations are history.
    "CREATE INDEX IF NOT EXISTS threadloom_store_texts_scope "
    "ON threadloom_store_texts (namespace) INCLUDE (length)",
    # Items written before this version have no keyword rows yet: the first
    # store set up with an index fills them in, once.
    "CREATE TABLE IF NOT EXISTS threadloom_store_pending (task text PRIMARY KEY)",
    "INSERT INTO threadloom_store_pending (task) SELECT 'keyword_backfill' "
    "WHERE EXISTS (SELECT 1 FROM threadloom_store) ON CONFLICT DO NOTHING",
]

#: Adds each statement's keyword rows to (or takes them from) their namespaces' counts.
_COUNT_TEXTS = """
    CREATE OR REPLACE FUNCTION threadloom_store_texts_count() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO threadloom_store_text_stats AS st (namespace, rows, length)
            SELECT namespace, count(*), sum(length) FROM new_rows
            GROUP BY namespace ORDER BY namespace
            ON CONFLICT (namespace) DO UPDATE
            SET rows = st.rows + EXCLUDED.rows, length = st.length + EXCLUDED.length;
        ELSIF TG_OP = 'DELETE' THEN
            UPDATE threadloom_store_text_stats AS st
            SET rows = st.rows - d.rows, length = st.length - d.length
            FROM (SELECT namespace, count(*) AS rows, sum(length) AS length
                  FROM old_rows GROUP BY namespace) d
            WHERE st.namespace = d.namespace;
        ELSIF TG_OP = 'UPDATE' THEN
            -- Keyword rows never change namespace (it is part of their key): only lengths.
            UPDATE threadloom_store_text_stats AS st
            SET length = st.length + d.length
            FROM (SELECT namespace, sum(length) AS length FROM (
                      SELECT namespace, length FROM new_rows
                      UNION ALL SELECT namespace, -length FROM old_rows) c
                  GROUP BY namespace) d
            WHERE st.namespace = d.namespace AND d.length <> 0;
        ELSE
            DELETE FROM threadloom_store_text_stats;
        END IF;
        RETURN NULL;
    END $$
"""

# Version 5: each namespace's keyword-row count and total length, kept by triggers on
# every write (cascaded deletes and TTL sweeps included), so a keyword search reads its
# scope's BM25 statistics from one row per namespace instead of counting every row.
_KEYWORD_STATS: list[SQL] = [
    """
    CREATE TABLE IF NOT EXISTS threadloom_store_text_stats (
        namespace text COLLATE "C" PRIMARY KEY,
        rows bigint NOT NULL,
        length bigint NOT NULL
    )
    """,
    # No write may slip in between the count below and the triggers.
    "LOCK TABLE threadloom_store_texts IN SHARE ROW EXCLUSIVE MODE",
    # Nothing reads it any more, and every put paid for its upkeep.
    "DROP INDEX IF EXISTS threadloom_store_texts_scope",
    "DELETE FROM threadloom_store_text_stats",
    "INSERT INTO threadloom_store_text_stats (namespace, rows, length) "
    "SELECT namespace, count(*), sum(length) FROM threadloom_store_texts GROUP BY namespace",
    _COUNT_TEXTS,
    *(
        f"DROP TRIGGER IF EXISTS threadloom_store_texts_{event.lower()} ON threadloom_store_texts"
        for event in ("INSERT", "UPDATE", "DELETE", "TRUNCATE")
    ),
    "CREATE TRIGGER threadloom_store_texts_insert AFTER INSERT ON threadloom_store_texts "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION threadloom_store_texts_count()",
    "CREATE TRIGGER threadloom_store_texts_update AFTER UPDATE ON threadloom_store_texts "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION threadloom_store_texts_count()",
    "CREATE TRIGGER threadloom_store_texts_delete AFTER DELETE ON threadloom_store_texts "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION threadloom_store_texts_count()",
    "CREATE TRIGGER threadloom_store_texts_truncate AFTER TRUNCATE ON threadloom_store_texts "
    "FOR EACH STATEMENT EXECUTE FUNCTION threadloom_store_texts_count()",
]

# Version 6: the keyword index takes new rows into its tree at once. With GIN's default
# fast update they waited in a pending list that every keyword search read through
# (a millisecond after a bulk load, until a vacuum merged it); a put pays a little more.
_KEYWORD_INDEX_DIRECT: list[SQL] = [
    "ALTER INDEX threadloom_store_texts_tsv SET (fastupdate = off)",
    # Switching it off leaves the list that is there: merge it now.
    "SELECT gin_clean_pending_list('threadloom_store_texts_tsv'::regclass)",
]

# Version 2 of the vector table: a single put may write its vectors with indexed = false,
# outside the HNSW index (whose upkeep was most of the put's time), and a background
# indexer sets the flag later. Searches read those rows exactly, through the small
# partial index below. Rows written before have indexed = true.
_DEFERRED_INDEXING: list[SQL] = [
    "ALTER TABLE threadloom_store_vectors "
    "ADD COLUMN IF NOT EXISTS indexed boolean NOT NULL DEFAULT true",
    "CREATE INDEX IF NOT EXISTS threadloom_store_vectors_unindexed "
    "ON threadloom_store_vectors (namespace, key) WHERE NOT indexed",
]

Distance = Literal["cosine", "l2", "inner_product"]

#: distance -> (operator, operator-class suffix)
DISTANCES: dict[str, tuple[str, str]] = {
    "cosine": ("<=>", "cosine_ops"),
    "l2": ("<->", "l2_ops"),
    "inner_product": ("<#>", "ip_ops"),
}


@dataclass(frozen=True)
class VectorLayout:
    """How vectors are stored and indexed: type, dims, distance and HNSW parameters."""

    dims: int
    vector_type: Literal["vector", "halfvec"] = "vector"
    distance: Distance = "cosine"
    m: int = 32
    ef_construction: int = 128

    @property
    def column_type(self) -> str:
        """``vector(384)`` or ``halfvec(384)``, as the catalog spells it."""
        return f"{self.vector_type}({self.dims})"

    @property
    def operator(self) -> str:
        return DISTANCES[self.distance][0]

    @property
    def index_name(self) -> str:
        return f"threadloom_store_vectors_hnsw_{self.distance}"

    def migrations(self) -> list[Migration]:
        """The vector table's migrations for this layout (dims and type come from config)."""
        return [self._create_table, lambda: _DEFERRED_INDEXING]

    def _create_table(self) -> Sequence[SQL]:
        # Values are validated ints and fixed words, placed with sql.SQL/Literal, never user text.
        return [
            sql.SQL(
                """
                CREATE TABLE IF NOT EXISTS threadloom_store_vectors (
                    namespace text COLLATE "C" NOT NULL,
                    key text NOT NULL,
                    field text NOT NULL,
                    seq integer NOT NULL,
                    embedding {column} NOT NULL,
                    PRIMARY KEY (namespace, key, field, seq),
                    FOREIGN KEY (namespace, key) REFERENCES threadloom_store (namespace, key)
                        ON DELETE CASCADE
                )
                """
            ).format(column=sql.SQL(self.column_type))
        ]

    def index_ddl(self) -> SQL:
        """The HNSW index for this distance (one per distance, created idempotently).

        It holds the ``indexed`` rows only: a single put's vector enters it when the
        store's indexer marks the row (see :data:`_DEFERRED_INDEXING`).
        """
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON threadloom_store_vectors "
            "USING hnsw (embedding {opclass}) WITH (m = {m}, ef_construction = {efc}) "
            "WHERE indexed"
        ).format(
            name=sql.Identifier(self.index_name),
            opclass=sql.SQL(f"{self.vector_type}_{DISTANCES[self.distance][1]}"),
            m=sql.Literal(self.m),
            efc=sql.Literal(self.ef_construction),
        )
