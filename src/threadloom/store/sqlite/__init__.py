"""A memory store in one SQLite file, safe to share between threads and processes.

Items, their vectors, their keyword index (FTS5) and TTLs live in the file
(WAL mode); semantic search runs on an in-process copy of the vectors that is
loaded on the first query and kept in step with writes from any process.
Keyword search is FTS5 scored as BM25 (``_text_search``); hybrid search fuses
both with :func:`threadloom.store._fusion.fuse_hits`. Needs no SQLite extension. :class:`AsyncSqliteStore` (also at
``threadloom.store.sqlite.aio``, LangGraph exports it from both) is the asyncio flavour.

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

from threadloom.store.sqlite._store import SqliteStore
from threadloom.store.sqlite.aio import AsyncSqliteStore

__all__ = ["AsyncSqliteStore", "SqliteStore"]
