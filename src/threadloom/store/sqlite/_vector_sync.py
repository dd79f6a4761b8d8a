"""The SQLite store's in-process vector index, kept in step with the file.

Vectors live in the file (``store_vectors``); searching them happens in a
:class:`~threadloom.store._vectors.VectorIndex` filled lazily, one namespace
prefix at a time: the first search under ``("users", "u7")`` reads only that
prefix's vectors (an index range), a search across everything reads them all.
A process serving a few users never holds everyone's vectors; one that has
searched :data:`PREFIX_LOADS_BEFORE_ALL` different prefixes is serving many,
and loads everything at once (one sequential read beats many small ones).
Loaded parts follow every commit:

* this process's own writes are applied directly after they commit, when the
  index was current before the write (nobody else wrote in between);
* other processes' writes are noticed through ``PRAGMA data_version`` and
  applied incrementally: items whose ``seq`` is newer than the index's, and
  removals logged since; only a reader that fell behind the pruned removal
  log reloads everything.

Not thread-safe on its own: the store calls it with its database lock held.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.errors import DatabaseError
from threadloom.store._vectors import VectorIndex
from threadloom.store.sqlite._sql import prefix_where, split_namespace

__all__ = ["PREFIX_LOADS_BEFORE_ALL", "SyncedVectors", "VectorChange", "add_entries"]

#: After this many prefix-scoped loads, the next load reads every vector.
PREFIX_LOADS_BEFORE_ALL = 8
#: Items read from the file per step of a load: each step's bytes are copied into
#: the index and freed, so a load never holds every vector twice.
LOAD_CHUNK = 4096

#: ``(namespace, key, unit rows or None)``: an item's new vectors, or its removal.
VectorChange = tuple[tuple[str, ...], str, Any]
FloatMatrix = npt.NDArray[np.float32]


def _meta(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


class SyncedVectors:
    """A lazily loaded :class:`VectorIndex` and the ``seq`` it reflects."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.index: VectorIndex | None = None
        self.seq = -1
        # Namespace prefixes whose vectors are all in the index (``()``: everything).
        # Outside them the index may hold some items (changes applied as they come),
        # which loading the prefix later replaces.
        self.loaded: set[tuple[str, ...]] = set()
        self._prefix_loads = 0
        self._data_version: int | None = None
        self._behind = True

    def invalidate(self) -> None:
        """Forget the index; the next search reloads what it needs."""
        self.index = None
        self.seq = -1
        self.loaded = set()
        self._behind = True

    def covers(self, prefix: tuple[str, ...]) -> bool:
        """Whether every vector under ``prefix`` is in the index."""
        return any(prefix[: len(done)] == done for done in self.loaded)

    def catch_up(
        self,
        conn: sqlite3.Connection,
        data_version: int | None,
        scope: tuple[str, ...] = (),
        *,
        current: int | None = None,
    ) -> VectorIndex:
        """An index holding every vector under ``scope`` as ``conn`` sees them.

        Must run inside a transaction on ``conn`` (a consistent snapshot).
        ``data_version=None`` forces a check for changes; ``current`` is the
        ``seq`` a write transaction has reached but not yet stored.
        """
        if (
            self.index is None
            or self._behind
            or data_version is None
            or data_version != self._data_version
        ):
            if current is None:
                current = int(_meta(conn, "seq") or 0)
            floor = int(_meta(conn, "removals_floor") or 0)
            if self.index is None or self.seq < floor:
                self.index, self.seq, self.loaded = VectorIndex(self.dims), current, set()
            elif current != self.seq:
                self._apply_since(conn, current)
            self._data_version = data_version
            self._behind = data_version is None
        assert self.index is not None
        if not self.covers(scope):
            self._prefix_loads += 1
            self._load(conn, scope if self._prefix_loads <= PREFIX_LOADS_BEFORE_ALL else ())
        return self.index

    def _load(self, conn: sqlite3.Connection, scope: tuple[str, ...]) -> None:
        """Read every vector under ``scope`` (at the index's ``seq``: same snapshot)."""
        assert self.index is not None
        chunks: Iterator[list[tuple[str, str, bytes]]]
        if scope:
            where, params = prefix_where(scope, column="i.prefix")
            cursor = conn.execute(
                "SELECT i.prefix, i.key, v.vectors FROM store_items i "
                f"JOIN store_vectors v ON v.item_id = i.id WHERE {where}",
                params,
            )
            chunks = _chunks(cursor)
        else:
            # Two sequential scans (addresses, then vectors by item id) beat a join,
            # which would read the items table in random order.
            addresses = {
                item_id: (prefix, key)
                for item_id, prefix, key in conn.execute("SELECT id, prefix, key FROM store_items")
            }
            cursor = conn.execute("SELECT item_id, vectors FROM store_vectors")
            chunks = (
                [(*addresses[item_id], blob) for item_id, blob in rows if item_id in addresses]
                for rows in _chunks(cursor)
            )
        for entries in chunks:
            add_entries(self.index, entries)
        self.index.sort_keys(scope)
        self.loaded = {done for done in self.loaded if done[: len(scope)] != scope}
        self.loaded.add(scope)

    def _apply_since(self, conn: sqlite3.Connection, current: int) -> None:
        assert self.index is not None
        # Removals first: an address removed and then put again is in store_items now.
        for prefix, key in conn.execute(
            "SELECT prefix, key FROM store_removals WHERE seq > ? AND seq <= ?", (self.seq, current)
        ):
            self.index.remove(split_namespace(prefix), key)
        changed = conn.execute(
            "SELECT i.prefix, i.key, v.vectors FROM store_items i "
            "LEFT JOIN store_vectors v ON v.item_id = i.id WHERE i.seq > ? AND i.seq <= ?",
            (self.seq, current),
        )
        entries = [
            (split_namespace(prefix), key, stored_rows(blob or b"", self.dims, (prefix, key)))
            for prefix, key, blob in changed
        ]
        self.index.add_many(entries, normalized=True)
        self.seq = current

    def applied_own_write(self, before: int, after: int, changes: list[VectorChange]) -> None:
        """Apply a committed write of this process that moved ``seq`` from ``before`` to ``after``."""
        if self.index is None:
            return
        if self.seq != before:
            self._behind = True  # someone else wrote in between: catch up from the file
            return
        # The last change of each address wins (a batch may put and then delete a key).
        final: dict[tuple[tuple[str, ...], str], Any] = {}
        for namespace, key, rows in changes:
            final[(namespace, key)] = rows
        for (namespace, key), rows in final.items():
            if rows is None:
                self.index.remove(namespace, key)
        self.index.add_many(
            [(ns, key, rows) for (ns, key), rows in final.items() if rows is not None],
            normalized=True,
        )
        self.seq = after


def add_entries(index: VectorIndex, entries: list[tuple[str, str, bytes]]) -> None:
    """Set the vectors of ``(prefix, key, float32 unit rows as bytes)`` entries.

    One block copy for all the vectors (``VectorIndex.add_block``) instead of
    one array per item. Raises :class:`DatabaseError` for bytes that are not
    whole rows (a damaged file), naming the item.
    """
    dims = index.dims
    if not entries:
        return
    namespaces: dict[str, tuple[str, ...]] = {}
    addresses = []
    for prefix, key, _ in entries:
        namespace = namespaces.get(prefix)
        if namespace is None:
            namespace = namespaces[prefix] = split_namespace(prefix)
        addresses.append((namespace, key))
    row_bytes = 4 * dims
    try:
        counts = [len(blob) // row_bytes for _, _, blob in entries]
        joined = b"".join(blob for _, _, blob in entries)
        whole = len(joined) == row_bytes * sum(counts)
    except TypeError:  # a value that is not bytes
        whole = False
    if not whole:
        for prefix, key, blob in entries:
            stored_rows(blob, dims, (prefix, key))  # raises for the first damaged one
    block = np.frombuffer(joined, dtype=np.float32)
    index.add_block(addresses, counts, block.reshape(-1, dims), normalized=True)


def stored_rows(blob: bytes, dims: int, address: tuple[str, str]) -> FloatMatrix:
    """An item's stored vectors as a ``(n, dims)`` view; :class:`DatabaseError` if the
    bytes are not whole float32 rows of ``dims``."""
    if type(blob) is not bytes or len(blob) % (4 * dims):
        prefix, key = address
        found = f"{len(blob)} bytes" if type(blob) is bytes else f"a {type(blob).__name__}"
        raise DatabaseError(
            f"The stored vectors of item {key!r} in namespace {prefix!r} are {found}, not "
            f"whole {dims}-dim float32 rows ({4 * dims} bytes each): the file is damaged. "
            "Put the item again (or delete it) to repair it."
        )
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, dims)


def _chunks(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    """The cursor's rows, :data:`LOAD_CHUNK` at a time."""
    while rows := cursor.fetchmany(LOAD_CHUNK):
        yield rows
