"""A cache for node and task results in one SQLite file; values go through the typed serializer."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from threadloom.cache.base import BaseCache, FullKey, Namespace
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer

__all__ = ["SqliteCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threadloom_cache (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    value BLOB NOT NULL,
    expiry REAL,
    PRIMARY KEY (ns, key)
)
"""


class SqliteCache(BaseCache):
    """Entries in a table of a SQLite file (or an open connection); never pickle.

    Example::

        import tempfile
        from threadloom.cache.sqlite import SqliteCache

        with SqliteCache(tempfile.mkdtemp() + "/cache.db") as cache:
            cache.set({(("node",), "k"): ([1, 2], 60)})
            assert cache.get([(("node",), "k")]) == {(("node",), "k"): [1, 2]}

    A cache opened on a path owns its connection: ``close()`` (or leaving the
    ``with`` block) closes it. A connection passed in stays the caller's to close.
    """

    def __init__(self, path: str | Path | sqlite3.Connection, *, serde: Any = None) -> None:
        self._owns_conn = not isinstance(path, sqlite3.Connection)
        if isinstance(path, sqlite3.Connection):
            self.conn = path
        else:
            self.conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.serde = serde if serde is not None else JsonPlusSerializer()
        self._lock = threading.Lock()
        try:
            with self._lock:
                if self._owns_conn:
                    self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute(_SCHEMA)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the connection this cache opened (a caller's connection is left open)."""
        if self._owns_conn:
            with self._lock:
                self.conn.close()

    def __enter__(self) -> SqliteCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        now = time.time()
        out: dict[FullKey, Any] = {}
        with self._lock:
            for ns, key in keys:
                row = self.conn.execute(
                    "SELECT type, value, expiry FROM threadloom_cache WHERE ns = ? AND key = ?",
                    (_ns(ns), key),
                ).fetchone()
                if row is None or (row[2] is not None and row[2] <= now):
                    continue
                out[(ns, key)] = self.serde.loads_typed((row[0], row[1]))
        return out

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | float | None]]) -> None:
        now = time.time()
        rows = []
        for (ns, key), (value, ttl) in pairs.items():
            kind, data = self.serde.dumps_typed(value)
            rows.append((_ns(ns), key, kind, data, None if ttl is None else now + ttl))
        with self._lock:
            self.conn.executemany(
                "INSERT OR REPLACE INTO threadloom_cache (ns, key, type, value, expiry) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            self.conn.execute(
                "DELETE FROM threadloom_cache WHERE expiry IS NOT NULL AND expiry <= ?", (now,)
            )

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self.conn.execute("DELETE FROM threadloom_cache")
            else:
                self.conn.executemany(
                    "DELETE FROM threadloom_cache WHERE ns = ?", [(_ns(ns),) for ns in namespaces]
                )


def _ns(ns: Namespace) -> str:
    return json.dumps(list(ns))
