"""The SQLite store's in-process vector index, kept in step with the file.

Vectors live in the file (``store_vectors``); searching them happens in a
:class:`~threadloom.store._vectors.VectorIndex` built on the first semantic
search. Afterwards the index follows every commit:

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
from typing import Any

import numpy as np

from threadloom.store._vectors import VectorIndex, _Partition
from threadloom.store.sqlite._sql import split_namespace

__all__ = ["SyncedVectors", "VectorChange", "bulk_index"]

#: ``(namespace, key, unit rows or None)``: an item's new vectors, or its removal.
VectorChange = tuple[tuple[str, ...], str, Any]


def _meta(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


class SyncedVectors:
    """A lazily loaded :class:`VectorIndex` and the ``seq`` it reflects."""

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.index: VectorIndex | None = None
        self.seq = -1
        self._data_version: int | None = None
        self._behind = True

    def invalidate(self) -> None:
        """Forget the index; the next search reloads it."""
        self.index = None
        self.seq = -1
        self._behind = True

    def catch_up(
        self, conn: sqlite3.Connection, data_version: int | None, *, current: int | None = None
    ) -> VectorIndex:
        """Bring the index up to what ``conn`` sees; ``data_version=None`` forces a check.

        Must run inside a transaction on ``conn`` (a consistent snapshot).
        ``current`` is the ``seq`` a write transaction has reached but not yet stored.
        """
        if (
            self.index is not None
            and not self._behind
            and data_version is not None
            and data_version == self._data_version
        ):
            return self.index
        if current is None:
            current = int(_meta(conn, "seq") or 0)
        floor = int(_meta(conn, "removals_floor") or 0)
        if self.index is None or self.seq < floor:
            self._load(conn, current)
        elif current != self.seq:
            self._apply_since(conn, current)
        self._data_version = data_version
        self._behind = data_version is None
        assert self.index is not None
        return self.index

    def _rows(self, blob: bytes) -> Any:
        return np.frombuffer(blob, dtype=np.float32).reshape(-1, self.dims)

    def _load(self, conn: sqlite3.Connection, current: int) -> None:
        # Two sequential scans (vectors by item id, then addresses) beat a join:
        # the join reads the items table in random order.
        vectors = conn.execute("SELECT item_id, vectors FROM store_vectors").fetchall()
        addresses = {
            item_id: (prefix, key)
            for item_id, prefix, key in conn.execute("SELECT id, prefix, key FROM store_items")
        }
        entries = [(addresses[item_id], blob) for item_id, blob in vectors if item_id in addresses]
        self.index, self.seq = bulk_index(self.dims, entries), current

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
            (
                split_namespace(prefix),
                key,
                self._rows(blob) if blob is not None else self._rows(b""),
            )
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


def bulk_index(dims: int, entries: list[tuple[tuple[str, str], bytes]]) -> VectorIndex:
    """A :class:`VectorIndex` holding ``((prefix, key), float32 unit rows as bytes)`` entries.

    Equivalent to ``VectorIndex.add_many`` on an empty index, but vectorized:
    loading 100k items this way takes a fraction of the per-item path's time.
    It fills the index's internal arrays directly, so it checks that they are
    the ones it knows and otherwise falls back to ``add_many``.
    """
    index = VectorIndex(dims)
    known = (
        "_matrix",
        "_size",
        "_row_item",
        "_row_pos",
        "_item_addr",
        "_item_rows",
        "_ids",
        "_partitions",
        "_sorted_namespaces",
        "_free_ids",
    )
    if not entries or not all(hasattr(index, name) for name in known):
        index.add_many(
            (
                (split_namespace(p), k, np.frombuffer(b, dtype=np.float32).reshape(-1, dims))
                for (p, k), b in entries
            ),
            normalized=True,
        )
        return index
    items = len(entries)
    counts = np.fromiter((len(blob) for _, blob in entries), dtype=np.int64, count=items)
    counts //= 4 * dims
    total = int(counts.sum())
    # One copy of the vectors, straight into an array the index owns (it may resize it).
    matrix = np.empty((total, dims), dtype=np.float32)
    flat = memoryview(matrix.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
    offset = 0
    for _, blob in entries:
        flat[offset : offset + len(blob)] = blob
        offset += len(blob)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    row_item = np.repeat(np.arange(items, dtype=np.int64), counts)
    # Partitions: each namespace's row numbers, in load order (they need not be contiguous).
    group_ids: dict[str, int] = {}
    item_group = np.fromiter(
        (group_ids.setdefault(prefix, len(group_ids)) for (prefix, _), _ in entries),
        dtype=np.int64,
        count=items,
    )
    row_group = np.repeat(item_group, counts)
    by_group = np.argsort(row_group, kind="stable")
    group_sizes = np.bincount(row_group, minlength=len(group_ids))
    group_starts = np.concatenate(([0], np.cumsum(group_sizes)[:-1]))
    row_pos = np.empty(total, dtype=np.int64)
    row_pos[by_group] = np.arange(total, dtype=np.int64) - np.repeat(group_starts, group_sizes)

    index._matrix = matrix
    index._size = total
    index._row_item = row_item
    index._row_pos = row_pos
    namespaces = {prefix: split_namespace(prefix) for prefix in group_ids}
    addresses = [(namespaces[prefix], key) for (prefix, key), _ in entries]
    index._item_addr = list(addresses)
    if total == items:  # the usual case: one vector per item
        index._item_rows = [[row] for row in range(items)]
    else:
        index._item_rows = [
            list(range(start, start + count))
            for start, count in zip(starts.tolist(), counts.tolist(), strict=True)
        ]
    index._ids = {address: item for item, address in enumerate(addresses)}
    index._free_ids = []
    partitions = {}
    for prefix, g in group_ids.items():
        partition = _Partition()
        start = int(group_starts[g])
        partition.rows = by_group[start : start + int(group_sizes[g])].copy()
        partition.size = int(group_sizes[g])
        partitions[namespaces[prefix]] = partition
    index._partitions = partitions
    index._sorted_namespaces = sorted(partitions)
    return index
