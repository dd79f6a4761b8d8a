"""An exact in-process vector index, partitioned by namespace.

Used by :class:`~threadloom.store.memory.InMemoryStore` and by backends that
keep their vectors on disk but search them in memory (load them once with
:meth:`VectorIndex.add_many`, then keep the index in step with every write).

Layout
------
All vectors live in ONE contiguous float32 matrix (rows are unit vectors, so a
dot product is the cosine similarity). Capacity doubles when it runs out;
deleting swaps the last row into the hole, so rows ``[0, size)`` are always
live and a search over the whole store is one matrix-vector product (numpy's
single-threaded einsum for large scans: the product is memory-bound, and
multi-threaded BLAS only adds thread wake-up stalls on a busy machine).
Each namespace (a partition) keeps the numpy array of its row numbers, and
the namespaces are kept sorted, so a search scoped to a namespace prefix
gathers only that prefix's rows. Top-k uses ``argpartition``; an item with
several vectors counts once, with its best score, before offset and limit.

API
---
``VectorIndex(dims)``
    ``add(namespace, key, vectors)`` / ``add_many([(namespace, key, vectors), ...])``
    put an item's vectors, replacing any it had (``vectors`` is ``(n, dims)``;
    ``n == 0`` just removes them). ``add_block(addresses, counts, block)`` does
    the same for items whose vectors are consecutive rows of one matrix (the
    copy-once path for a batch). ``remove(namespace, key)`` drops them;
    ``namespaces(prefix)`` lists the partitions under a prefix.
    ``search(query, prefix=(), limit=10, offset=0, candidates=None, accept=None)``
    returns ``[(namespace, key, score), ...]`` best first. ``candidates``
    restricts the search to those ``(namespace, key)`` pairs (a filter evaluated
    beforehand); ``accept(namespace, key)`` is asked lazily, best first, and
    rejected items are skipped (cheap when most items pass).
    ``__contains__((namespace, key))``, ``__len__`` (items), ``rows`` (vectors),
    ``clear()``, ``nbytes``.

The index is not thread-safe; its owner serializes access (the stores hold a
lock). It never hands out views of its matrix, so it may reallocate in place.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

__all__ = ["VectorIndex", "normalize_rows"]

Namespace = tuple[str, ...]
Address = tuple[Namespace, str]
FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_MIN_CAPACITY = 64
# A scope holding more than this share of all rows is scored with one product
# over the whole matrix instead of gathering its rows first.
_FULL_SCAN_SHARE = 0.3
# Above this many rows, score with numpy's single-threaded einsum rather than
# BLAS: OpenBLAS runs larger matrix-vector products on several threads, which
# buys little (the product is memory-bound) and stalls for tens of ms on a busy
# machine; up to here it stays on one thread and beats einsum.
_BLAS_MAX_ROWS = 1024


def normalize_rows(vectors: Any, dims: int, *, copy: bool = True) -> FloatMatrix:
    """``vectors`` as a C-contiguous float32 ``(n, dims)`` array of unit rows (zero rows stay zero).

    ``copy=False`` normalizes a float32 C-contiguous array in place.
    """
    matrix = np.array(vectors, dtype=np.float32, copy=True if copy else None, ndmin=2, order="C")
    if matrix.size == 0:
        return np.empty((0, dims), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dims:
        raise ValueError(f"expected vectors of {dims} dims, got shape {matrix.shape}")
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    norms[norms == 0] = 1.0
    matrix /= norms[:, None]
    return matrix


def _dot(matrix: FloatMatrix, q: FloatMatrix) -> npt.NDArray[np.float32]:
    """``matrix @ q``, single-threaded for large matrices."""
    if len(matrix) > _BLAS_MAX_ROWS:
        return cast("npt.NDArray[np.float32]", np.einsum("ij,j->i", matrix, q))
    return matrix @ q


class _Partition:
    """The rows of one namespace: a growable int64 array."""

    __slots__ = ("rows", "size")

    def __init__(self) -> None:
        self.rows: IntArray = np.empty(4, dtype=np.int64)
        self.size = 0

    def extend(self, rows: list[int]) -> IntArray:
        """Append ``rows``; returns their positions."""
        needed = self.size + len(rows)
        if needed > len(self.rows):
            capacity = len(self.rows)
            while capacity < needed:
                capacity *= 2
            grown = np.empty(capacity, dtype=np.int64)
            grown[: self.size] = self.rows[: self.size]
            self.rows = grown
        positions = np.arange(self.size, needed, dtype=np.int64)
        self.rows[self.size : needed] = rows
        self.size = needed
        return positions

    def view(self) -> IntArray:
        return self.rows[: self.size]


class VectorIndex:
    """Exact cosine search over items' vectors, partitioned by namespace.

    >>> index = VectorIndex(2)
    >>> index.add(("docs",), "a", [[1.0, 0.0]])
    >>> index.add(("docs",), "b", [[0.0, 1.0], [0.7, 0.7]])
    >>> [(key, round(score, 2)) for _, key, score in index.search([1.0, 0.1])]
    [('a', 1.0), ('b', 0.77)]
    """

    def __init__(self, dims: int) -> None:
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise ValueError(f"dims must be a positive integer, got {dims!r}")
        self.dims = dims
        self.clear()

    def clear(self) -> None:
        """Forget every vector."""
        self._matrix: FloatMatrix = np.empty((0, self.dims), dtype=np.float32)
        self._size = 0
        # Per row: the item id that owns it, and its position in its partition.
        self._row_item: IntArray = np.empty(0, dtype=np.int64)
        self._row_pos: IntArray = np.empty(0, dtype=np.int64)
        # Per item id: its address and rows; ids are reused after removal.
        self._item_addr: list[Address | None] = []
        self._item_rows: list[list[int]] = []
        self._free_ids: list[int] = []
        self._ids: dict[Address, int] = {}
        self._partitions: dict[Namespace, _Partition] = {}
        self._sorted_namespaces: list[Namespace] = []

    # --- sizes ---

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, address: object) -> bool:
        return address in self._ids

    @property
    def rows(self) -> int:
        """How many vectors are stored."""
        return self._size

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (capacity included)."""
        partitions = sum(p.rows.nbytes for p in self._partitions.values())
        return self._matrix.nbytes + self._row_item.nbytes + self._row_pos.nbytes + partitions

    # --- writes ---

    def add(self, namespace: Namespace, key: str, vectors: Any) -> None:
        """Set the vectors of ``(namespace, key)``, replacing any it had."""
        self.add_many([(namespace, key, vectors)])

    def add_many(
        self, entries: Iterable[tuple[Namespace, str, Any]], *, normalized: bool = False
    ) -> None:
        """Set the vectors of several items at once (one growth for the batch).

        ``normalized=True`` promises float32 unit rows (as :func:`normalize_rows`
        returns) and skips normalizing them again.
        """
        prepared: dict[Address, FloatMatrix] = {}
        for namespace, key, vectors in entries:
            if normalized:
                matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dims)
            else:
                matrix = normalize_rows(vectors, self.dims)
            prepared[(tuple(namespace), key)] = matrix  # the last entry for an item wins
        if not prepared:
            return
        matrices = list(prepared.values())
        block = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
        self.add_block(list(prepared), [len(m) for m in matrices], block, normalized=True)

    def add_block(
        self,
        addresses: Sequence[Address],
        counts: Sequence[int],
        block: Any,
        *,
        normalized: bool = False,
    ) -> None:
        """Set the vectors of several items given as consecutive rows of one ``block``.

        Item ``i`` owns the next ``counts[i]`` rows (0 rows: it just loses its
        vectors). Addresses must be distinct. This is the copy-once path for a
        store's batch: the block is one embedding result.
        """
        block = (
            np.asarray(block, dtype=np.float32).reshape(-1, self.dims)
            if normalized
            else normalize_rows(block, self.dims)
        )
        if len(addresses) != len(counts) or sum(counts) != len(block):
            raise ValueError(
                f"{len(addresses)} addresses and {sum(counts)} counted rows do not match a "
                f"block of {len(block)} rows"
            )
        ids = self._ids
        for address in addresses:
            if address in ids:
                self.remove(*address)
        added = len(block)
        if not added:
            return
        self._reserve(self._size + added)
        start = self._size
        self._matrix[start : start + added] = block
        row = start
        by_partition: dict[Namespace, list[int]] = {}
        items: list[int] = []
        kept: list[int] = []
        item_rows = self._item_rows
        for address, count in zip(addresses, counts, strict=True):
            if not count:
                continue
            item = self._new_item(address)
            rows = list(range(row, row + count))
            item_rows[item] = rows
            items.append(item)
            kept.append(count)
            namespace_rows = by_partition.get(address[0])
            if namespace_rows is None:
                by_partition[address[0]] = rows[:]
            else:
                namespace_rows.extend(rows)
            row += count
        self._row_item[start : start + added] = np.repeat(np.array(items, dtype=np.int64), kept)
        for namespace, rows in by_partition.items():
            partition = self._partition(namespace)
            self._row_pos[rows] = partition.extend(rows)
        self._size += added

    def remove(self, namespace: Namespace, key: str) -> bool:
        """Drop the vectors of ``(namespace, key)``; whether it had any."""
        item = self._ids.pop((namespace, key), None)
        if item is None:
            return False
        partition = self._partitions[namespace]
        # Highest rows first, so a row moved into a hole is never one still to delete.
        for row in sorted(self._item_rows[item], reverse=True):
            self._remove_row(partition, row)
        if partition.size == 0:
            del self._partitions[namespace]
            index = bisect.bisect_left(self._sorted_namespaces, namespace)
            del self._sorted_namespaces[index]
        self._item_addr[item] = None
        self._item_rows[item] = []
        self._free_ids.append(item)
        return True

    def _remove_row(self, partition: _Partition, row: int) -> None:
        # Take the row out of its partition's list (swap with the partition's last).
        pos = int(self._row_pos[row])
        last_in_partition = int(partition.rows[partition.size - 1])
        partition.rows[pos] = last_in_partition
        self._row_pos[last_in_partition] = pos
        partition.size -= 1
        # Keep the matrix dense: move the last row of the matrix into the hole.
        last = self._size - 1
        if row != last:
            self._matrix[row] = self._matrix[last]
            moved_item = int(self._row_item[last])
            self._row_item[row] = moved_item
            moved_pos = int(self._row_pos[last])
            self._row_pos[row] = moved_pos
            addr = self._item_addr[moved_item]
            assert addr is not None
            self._partitions[addr[0]].rows[moved_pos] = row
            moved_rows = self._item_rows[moved_item]
            moved_rows[moved_rows.index(last)] = row
        self._size = last

    def _new_item(self, address: Address) -> int:
        if self._free_ids:
            item = self._free_ids.pop()
            self._item_addr[item] = address
        else:
            item = len(self._item_addr)
            self._item_addr.append(address)
            self._item_rows.append([])
        self._ids[address] = item
        return item

    def _partition(self, namespace: Namespace) -> _Partition:
        partition = self._partitions.get(namespace)
        if partition is None:
            partition = self._partitions[namespace] = _Partition()
            bisect.insort(self._sorted_namespaces, namespace)
        return partition

    def _reserve(self, needed: int) -> None:
        capacity = len(self._matrix)
        if needed <= capacity:
            return
        new_capacity = max(_MIN_CAPACITY, capacity)
        while new_capacity < needed:
            new_capacity *= 2
        # resize() reallocates in place when it can, so growth does not hold two
        # copies of the matrix at once; safe because no view of it ever escapes.
        if capacity:
            self._matrix.resize((new_capacity, self.dims), refcheck=False)
            self._row_item.resize(new_capacity, refcheck=False)
            self._row_pos.resize(new_capacity, refcheck=False)
        else:
            self._matrix = np.empty((new_capacity, self.dims), dtype=np.float32)
            self._row_item = np.empty(new_capacity, dtype=np.int64)
            self._row_pos = np.empty(new_capacity, dtype=np.int64)

    # --- reads ---

    def namespaces(self, prefix: Namespace = ()) -> list[Namespace]:
        """The namespaces with vectors under ``prefix``, sorted."""
        start = bisect.bisect_left(self._sorted_namespaces, prefix)
        found = []
        for namespace in self._sorted_namespaces[start:]:
            if namespace[: len(prefix)] != prefix:
                break
            found.append(namespace)
        return found

    def search(
        self,
        query: Sequence[float] | npt.NDArray[Any],
        prefix: Namespace = (),
        *,
        limit: int = 10,
        offset: int = 0,
        candidates: Iterable[Address] | None = None,
        accept: Callable[[Namespace, str], bool] | None = None,
    ) -> list[tuple[Namespace, str, float]]:
        """The best ``limit`` items after ``offset``, as ``(namespace, key, score)``.

        Scores are cosine similarities; each item appears once, with the score
        of its best vector.
        """
        need = offset + limit
        if need <= 0 or self._size == 0:
            return []
        q = normalize_rows(query, self.dims)[0]
        rows = self._scope_rows(tuple(prefix), candidates)
        if rows is None:
            scores = _dot(self._matrix[: self._size], q)
        elif len(rows) == 0:
            return []
        elif len(rows) > _FULL_SCAN_SHARE * self._size:
            scores = _dot(self._matrix[: self._size], q)[rows]
        else:
            scores = _dot(self._matrix[rows], q)
        found = self._top_items(scores, rows, need, accept)
        return found[offset:need]

    def _scope_rows(
        self, prefix: Namespace, candidates: Iterable[Address] | None
    ) -> IntArray | None:
        """Row numbers to score, or ``None`` for every row."""
        if candidates is not None:
            picked: list[int] = []
            for namespace, key in candidates:
                if namespace[: len(prefix)] != prefix:
                    continue
                item = self._ids.get((namespace, key))
                if item is not None:
                    picked.extend(self._item_rows[item])
            return np.array(picked, dtype=np.int64)
        if not prefix:
            return None
        parts = [self._partitions[ns].view() for ns in self.namespaces(prefix)]
        if not parts:
            return np.empty(0, dtype=np.int64)
        if len(parts) == 1:
            return parts[0]
        if sum(len(p) for p in parts) == self._size:
            return None  # the prefix covers every row: no gather needed
        return np.concatenate(parts)

    def _top_items(
        self,
        scores: npt.NDArray[np.float32],
        rows: IntArray | None,
        need: int,
        accept: Callable[[Namespace, str], bool] | None,
    ) -> list[tuple[Namespace, str, float]]:
        total = len(scores)
        # Rows beyond the first `need` are only needed for duplicates and rejections;
        # start with a little headroom and widen until enough distinct items pass.
        m = min(total, need * 2 if self._size > len(self._ids) or accept else need)
        verdicts: dict[int, bool] = {}
        while True:
            if m < total:
                # Keep every row tied with the m-th best, then order by (score desc,
                # row asc): pages of the same query never overlap or skip on ties.
                threshold = scores[np.argpartition(-scores, m - 1)[m - 1]]
                top = np.flatnonzero(scores >= threshold)
            else:
                top = np.arange(total)
            top = top[np.lexsort((top, -scores[top]))]
            global_rows = top if rows is None else rows[top]
            items = self._row_item[global_rows]
            # First occurrence of each item in best-first order = its best score.
            _, first = np.unique(items, return_index=True)
            first.sort()
            found: list[tuple[Namespace, str, float]] = []
            for position in first.tolist():
                item = int(items[position])
                address = self._item_addr[item]
                assert address is not None
                if accept is not None:
                    ok = verdicts.get(item)
                    if ok is None:
                        ok = verdicts[item] = bool(accept(*address))
                    if not ok:
                        continue
                found.append((address[0], address[1], float(scores[top[position]])))
                if len(found) == need:
                    return found
            if m >= total:
                return found
            m = min(total, m * 4)
