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
    # A scope's row count and total length come from this index alone.
    "CREATE INDEX IF NOT EXISTS threadloom_store_texts_scope "
    "ON threadloom_store_texts (namespace) INCLUDE (length)",
    # Items written before this version have no keyword rows yet: the first
    # store set up with an index fills them in, once.
    "CREATE TABLE IF NOT EXISTS threadloom_store_pending (task text PRIMARY KEY)",
    "INSERT INTO threadloom_store_pending (task) SELECT 'keyword_backfill' "
    "WHERE EXISTS (SELECT 1 FROM threadloom_store) ON CONFLICT DO NOTHING",
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
        return [self._create_table]

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
        """The HNSW index for this distance (one per distance, created idempotently)."""
        return sql.SQL(
            "CREATE INDEX IF NOT EXISTS {name} ON threadloom_store_vectors "
            "USING hnsw (embedding {opclass}) WITH (m = {m}, ef_construction = {efc})"
        ).format(
            name=sql.Identifier(self.index_name),
            opclass=sql.SQL(f"{self.vector_type}_{DISTANCES[self.distance][1]}"),
            m=sql.Literal(self.m),
            efc=sql.Literal(self.ef_construction),
        )
