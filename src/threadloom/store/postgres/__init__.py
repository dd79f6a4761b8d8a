"""A store on PostgreSQL with pgvector: memories shared by every host of an application.

Install with ``pip install 'threadloom[postgres]'``. Point it at any
PostgreSQL 13+ where the pgvector extension is available (the ``vector``
extension is created by :meth:`PostgresStore.setup` when the user may, and
needed only when the store has an ``index``).

Example (``dsn`` is a ``postgresql://user:password@host:port/db`` URL)::

    from threadloom.store.postgres import PostgresStore

    def embed(texts):
        return [[1.0, float(len(t))] for t in texts]

    with PostgresStore.from_conn_string(dsn, index={"dims": 2, "embed": embed}) as store:
        store.setup()                       # once per database; safe to repeat
        store.put(("memories", "1"), "a", {"text": "User likes pizza"})
        hits = store.search(("memories", "1"), query="food")

Semantic search uses an HNSW index (cosine by default; ``"l2"`` and
``"inner_product"`` too, via ``distance_type``) with iterative index scans, so
a namespace prefix or a filter never cuts the top-k short; the ``vector`` or
``halfvec`` column type is chosen with ``ann_index_config={"vector_type": ...}``.

Every indexed store also keeps a keyword index of the same texts (PostgreSQL
full-text search over the store's own terms, scored as BM25 in Python so
scores equal the other backends'), so ``search(..., mode="keyword" | "hybrid")``
works; ``index={"fields": [...]}`` without an embedder gives a keyword-only
store that needs no pgvector. :class:`AsyncPostgresStore` (also at
``threadloom.store.postgres.aio``) is the asyncio flavour.
"""

from threadloom.store.postgres._core import ANNIndexConfig, PostgresIndexConfig
from threadloom.store.postgres._store import PostgresStore
from threadloom.store.postgres.aio import AsyncPostgresStore

__all__ = ["ANNIndexConfig", "AsyncPostgresStore", "PostgresIndexConfig", "PostgresStore"]
