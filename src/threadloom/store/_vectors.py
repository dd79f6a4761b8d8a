"""An exact in-process vector index, partitioned by namespace.

Used by :class:`~threadloom.store.memory.InMemoryStore` and by backends that
keep their vectors on disk but search them in memory (load them once with
:meth:`VectorIndex.add_block` or :meth:`VectorIndex.add_many`, then keep the
index in step with every write).

Layout
------
All vectors live in one float32 row space, stored as fixed-size *slabs* of about
16 MB: the first slab doubles until it is full size, then growth appends
slabs, so filling a large index never copies the vectors it already holds
(growing one matrix by doubling spent about a quarter of a bulk put copying
and first-touching memory). A segment never crosses a slab boundary.
Each row has a scale (``_row_scale``) that makes it a unit vector, so a dot
product times the row's scale is the cosine similarity: a single put copies
the embedder's vector as it is and records one number, instead of computing a
scaled copy (batches arrive normalized, with scale 1).
Each namespace (a partition) owns a few contiguous *segments* of that matrix,
each new one as large as all its previous ones together, so a namespace of
``n`` vectors sits in ``O(log n)`` contiguous blocks and its live rows fill
them in order (deleting moves the partition's last row into the hole). A
search scoped to a namespace prefix therefore reads only that prefix's
blocks, sequentially; a search over everything is one product over the whole
matrix, with unused slots masked out. Large scans use numpy's single-threaded
einsum: the product is memory-bound, and multi-threaded BLAS only adds thread
wake-up stalls on a busy machine. Top-k uses ``argpartition``; an item with
several vectors counts once, with its best score, before offset and limit.
When emptied namespaces leave more dead rows than live ones, the matrix is
compacted.

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
lock). It never hands out views of its matrix, which moves when it grows.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.store._slabs import block_rows, dot, gather, scatter, top_rows

__all__ = ["VectorIndex", "namespaces_under", "normalize_rows"]

Namespace = tuple[str, ...]
Address = tuple[Namespace, str]
FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_MIN_CAPACITY = 64
# Target bytes of a full slab (rounded down to a power-of-two row count).
_SLAB_BYTES = 16 << 20
# Never fewer rows per slab than this (huge dims).
_MIN_SLAB_ROWS = 1024
# The smallest segment a partition gets; later ones double its capacity.
_MIN_SEGMENT = 16
# A scope holding more than this share of all rows is scored with one product
# over the whole matrix instead of block by block.
_FULL_SCAN_SHARE = 0.3
_FREE = -1


def normalize_rows(vectors: Any, dims: int, *, copy: bool = True) -> FloatMatrix:
    """``vectors`` as a C-contiguous float32 ``(n, dims)`` array of unit rows (zero rows stay zero).

    ``copy=False`` normalizes a float32 C-contiguous array in place.
    """
    matrix = np.array(vectors, dtype=np.float32, copy=True if copy else None, ndmin=2, order="C")
    if matrix.size == 0:
        return np.empty((0, dims), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dims:
        raise ValueError(f"expected vectors of {dims} dims, got shape {matrix.shape}")
    if len(matrix) == 1:
        # One row (a single put or a query): plain dot and scale beat einsum's set-up.
        row = matrix[0]
        norm = math.sqrt(float(np.dot(row, row)))
        if norm:
            row *= 1.0 / norm
        return matrix
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
    norms[norms == 0] = 1.0
    matrix /= norms[:, None]
    return matrix


class _Partition:
    """One namespace's segments ``[start, capacity]``; its live rows fill them in order."""

    __slots__ = ("capacity", "segments", "size")

    def __init__(self) -> None:
        self.segments: list[list[int]] = []
        self.capacity = 0
        self.size = 0

    def physical(self, position: int) -> int:
        """The matrix row of the partition's ``position``-th live row."""
        for start, capacity in self.segments:
            if position < capacity:
                return start + position
            position -= capacity
        raise IndexError(position)

    def blocks(self) -> Iterator[tuple[int, int]]:
        """``(start, length)`` of each contiguous run of live rows."""
        remaining = self.size
        for start, capacity in self.segments:
            if remaining <= 0:
                return
            used = min(capacity, remaining)
            yield start, used
            remaining -= used


def namespaces_under(sorted_namespaces: Sequence[Namespace], prefix: Namespace) -> list[Namespace]:
    """The namespaces of a sorted list that start with ``prefix`` (one contiguous run)."""
    start = bisect.bisect_left(sorted_namespaces, prefix)
    found = []
    for namespace in sorted_namespaces[start:]:
        if namespace[: len(prefix)] != prefix:
            break
        found.append(namespace)
    return found


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
        rows = max(_MIN_SLAB_ROWS, _SLAB_BYTES // (4 * dims))
        self._slab_shift = rows.bit_length() - 1  # row >> shift: its slab
        self._slab_rows = 1 << self._slab_shift
        self.clear()

    def clear(self) -> None:
        """Forget every vector."""
        # Slab k holds rows [k * slab_rows, ...); only slab 0 may be shorter.
        self._slabs: list[FloatMatrix] = []
        self._capacity = 0
        # Per matrix row: the item id that owns it, or _FREE.
        self._row_item: IntArray = np.empty(0, dtype=np.int64)
        # Per matrix row: the factor that makes it a unit vector.
        self._row_scale: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self._high = 0  # rows handed out to segments; global scans read [0, high)
        self._live = 0  # rows holding a vector
        self._dead = 0  # rows in segments of namespaces that no longer exist
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
        return self._live

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (capacity included)."""
        return (
            sum(slab.nbytes for slab in self._slabs)
            + self._row_item.nbytes
            + self._row_scale.nbytes
        )

    def vectors_of(self, address: Address) -> FloatMatrix | None:
        """A copy of the item's unit rows, in the order they were set; ``None`` without any."""
        item = self._ids.get(address)
        if item is None:
            return None
        shift, mask = self._slab_shift, self._slab_rows - 1
        rows = self._item_rows[item]
        vectors = np.stack([self._slabs[row >> shift][row & mask] for row in rows])
        vectors *= self._row_scale[rows][:, None]
        return vectors

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
                matrix: FloatMatrix = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dims)
            else:
                matrix = normalize_rows(vectors, self.dims)
            prepared[(tuple(namespace), key)] = matrix  # the last entry for an item wins
        if not prepared:
            return
        matrices = list(prepared.values())
        block = matrices[0] if len(matrices) == 1 else np.concatenate(matrices)
        self.add_block(list(prepared), [len(m) for m in matrices], block, normalized=True)

    def set_rows(self, address: Address, block: FloatMatrix) -> None:
        """Set one item's vectors from float32 unit rows (the single-put path of :meth:`add_block`).

        An item re-put with as many vectors as it had keeps its rows: they are
        overwritten in place, with no bookkeeping at all.
        """
        count = len(block)
        item = self._ids.get(address)
        if item is not None:
            rows = self._item_rows[item]
            if len(rows) == count:
                shift, mask = self._slab_shift, self._slab_rows - 1
                for row, vector in zip(rows, block, strict=True):
                    self._slabs[row >> shift][row & mask] = vector
                self._row_scale[rows] = 1.0
                return
            self.remove(*address)
        if not count:
            return
        rows = self._claim(address[0], count)
        item = self._new_item(address, rows)
        shift, mask = self._slab_shift, self._slab_rows - 1
        first, last = rows[0], rows[-1]
        if count == 1:
            self._slabs[first >> shift][first & mask] = block[0]
            self._row_item[first] = item
            self._row_scale[first] = 1.0
        elif last - first == count - 1 and first >> shift == last >> shift:
            # Freshly claimed rows of one segment: one slice write.
            self._slabs[first >> shift][first & mask : (last & mask) + 1] = block
            self._row_item[first : last + 1] = item
            self._row_scale[first : last + 1] = 1.0
        else:
            for row, vector in zip(rows, block, strict=True):
                self._slabs[row >> shift][row & mask] = vector
                self._row_item[row] = item
            self._row_scale[rows] = 1.0
        self._live += count

    def set_row(self, address: Address, vector: FloatMatrix, scale: float) -> None:
        """Set one item's only vector to ``vector``, which ``scale`` makes a unit vector.

        The single put's path: the embedder's ``(dims,)`` float32 array is
        copied into the matrix as it is (never modified), and its scale is
        kept beside it, which costs less than writing the scaled product.
        """
        shift, mask = self._slab_shift, self._slab_rows - 1
        item = self._ids.get(address)
        if item is not None:
            rows = self._item_rows[item]
            if len(rows) == 1:
                row = rows[0]
                self._slabs[row >> shift][row & mask] = vector
                self._row_scale[row] = scale
                return
            self.remove(*address)
        partition = self._partitions.get(address[0])
        if partition is not None and not self._free_ids:
            # The usual single put: the next slot of the partition's last segment and a
            # new item id, inline (no _claim or _new_item call).
            start, capacity = partition.segments[-1]
            offset = capacity - partition.capacity + partition.size
            if 0 <= offset < capacity:
                row = start + offset
                partition.size += 1
                item = len(self._item_addr)
                self._item_addr.append(address)
                self._item_rows.append([row])
                self._ids[address] = item
                self._slabs[row >> shift][row & mask] = vector
                self._row_item[row] = item
                self._row_scale[row] = scale
                self._live += 1
                return
        rows = self._claim(address[0], 1)
        row = rows[0]
        self._slabs[row >> shift][row & mask] = vector
        self._row_item[row] = self._new_item(address, rows)
        self._row_scale[row] = scale
        self._live += 1

    def _new_item(self, address: Address, rows: list[int]) -> int:
        """Register ``address`` as the owner of ``rows``; returns its item id."""
        if self._free_ids:
            item = self._free_ids.pop()
            self._item_addr[item] = address
            self._item_rows[item] = rows
        else:
            item = len(self._item_addr)
            self._item_addr.append(address)
            self._item_rows.append(rows)
        self._ids[address] = item
        return item

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
        if not len(block):
            return
        # Rows each partition needs, claimed partition by partition (fewer segments).
        wanted: dict[Namespace, int] = {}
        for address, count in zip(addresses, counts, strict=True):
            if count:
                wanted[address[0]] = wanted.get(address[0], 0) + count
        claimed = {namespace: self._claim(namespace, n) for namespace, n in wanted.items()}
        cursors = dict.fromkeys(claimed, 0)
        physical: list[int] = []
        item_ids: list[int] = []
        kept: list[int] = []
        item_rows, item_addr, free_ids = self._item_rows, self._item_addr, self._free_ids
        for address, count in zip(addresses, counts, strict=True):
            if not count:
                continue
            namespace = address[0]
            cursor = cursors[namespace]
            rows = claimed[namespace][cursor : cursor + count]
            cursors[namespace] = cursor + count
            if free_ids:
                item = free_ids.pop()
                item_addr[item] = address
                item_rows[item] = rows
            else:
                item = len(item_addr)
                item_addr.append(address)
                item_rows.append(rows)
            ids[address] = item
            item_ids.append(item)
            kept.append(count)
            physical.extend(rows)
        targets = np.array(physical, dtype=np.int64)
        scatter(self._slabs, self._slab_shift, targets, block)
        self._row_item[targets] = np.repeat(np.array(item_ids, dtype=np.int64), kept)
        self._row_scale[targets] = 1.0
        self._live += len(block)

    def _claim(self, namespace: Namespace, count: int) -> list[int]:
        """Hand out the next ``count`` rows of a partition, growing it by a segment if needed."""
        partition = self._partitions.get(namespace)
        if partition is None:
            partition = self._partitions[namespace] = _Partition()
            bisect.insort(self._sorted_namespaces, namespace)
        spare = partition.capacity - partition.size
        if count == 1 and spare:
            # One more row (a single put): the next slot of the partition, in its last
            # segment when the earlier ones are full (the usual case: no walk).
            start, capacity = partition.segments[-1]
            offset = capacity - spare
            row = start + offset if offset >= 0 else partition.physical(partition.size)
            partition.size += 1
            return [row]
        while spare < count:
            size = max(_MIN_SEGMENT, partition.capacity, count - spare)
            # Up to the end of the current slab: a segment is one contiguous block.
            size = min(size, self._slab_rows - (self._high & (self._slab_rows - 1)))
            self._reserve(self._high + size)
            partition.segments.append([self._high, size])
            partition.capacity += size
            self._high += size
            spare += size
        rows: list[int] = []
        position, end = partition.size, partition.size + count
        for start, capacity in partition.segments:
            if position >= end:
                break
            if position < capacity:
                take = min(capacity, end) - position
                rows.extend(range(start + position, start + position + take))
                position += take
            position -= capacity
            end -= capacity
        partition.size += count
        return rows

    def remove(self, namespace: Namespace, key: str) -> bool:
        """Drop the vectors of ``(namespace, key)``; whether it had any."""
        item = self._ids.pop((namespace, key), None)
        if item is None:
            return False
        partition = self._partitions[namespace]
        rows = self._item_rows[item]
        while rows:
            # Moving the partition's last row into the hole may move one of this
            # item's own rows; it then updates `rows` in place, so pop again.
            self._remove_row(partition, rows.pop())
        if partition.size == 0:
            del self._partitions[namespace]
            index = bisect.bisect_left(self._sorted_namespaces, namespace)
            del self._sorted_namespaces[index]
            self._dead += partition.capacity
            if self._dead > self._live + _MIN_CAPACITY:
                self._compact()
        self._item_addr[item] = None
        self._free_ids.append(item)
        return True

    def _remove_row(self, partition: _Partition, row: int) -> None:
        last = partition.physical(partition.size - 1)
        if row != last:
            shift, mask = self._slab_shift, self._slab_rows - 1
            self._slabs[row >> shift][row & mask] = self._slabs[last >> shift][last & mask]
            moved_item = int(self._row_item[last])
            self._row_item[row] = moved_item
            self._row_scale[row] = self._row_scale[last]
            moved_rows = self._item_rows[moved_item]
            moved_rows[moved_rows.index(last)] = row
        self._row_item[last] = _FREE
        partition.size -= 1
        self._live -= 1

    def _compact(self) -> None:
        """Pack every partition into as few segments as fit, dropping dead rows."""
        old_slabs, old_row_item, old_row_scale = self._slabs, self._row_item, self._row_scale
        new_of_old = np.full(self._high, _FREE, dtype=np.int64)
        self._slabs, self._capacity, self._high, self._dead = [], 0, 0, 0
        self._row_item = np.empty(0, dtype=np.int64)
        self._row_scale = np.empty(0, dtype=np.float32)
        for namespace in self._sorted_namespaces:
            partition = self._partitions[namespace]
            old_rows = block_rows(list(partition.blocks()))
            partition.segments, partition.capacity, partition.size = [], 0, 0
            new_rows = np.array(self._claim(namespace, len(old_rows)), dtype=np.int64)
            scatter(
                self._slabs,
                self._slab_shift,
                new_rows,
                gather(old_slabs, self._slab_shift, old_rows, self.dims),
            )
            self._row_item[new_rows] = old_row_item[old_rows]
            self._row_scale[new_rows] = old_row_scale[old_rows]
            new_of_old[old_rows] = new_rows
        for rows in self._item_rows:
            if rows:
                rows[:] = new_of_old[rows].tolist()

    def _reserve(self, needed: int) -> None:
        capacity = self._capacity
        if needed <= capacity:
            return
        slabs, full = self._slabs, self._slab_rows
        if capacity < full:
            # Small indexes: one slab, doubled (cheap copies) until it is full size.
            new_capacity = max(_MIN_CAPACITY, capacity)
            while new_capacity < needed and new_capacity < full:
                new_capacity *= 2
            new_capacity = min(new_capacity, full)
            # A fresh np.empty (not resize): numpy asks the kernel for huge pages on
            # large allocations, which makes first writes to the new rows cheaper.
            matrix = np.empty((new_capacity, self.dims), dtype=np.float32)
            if slabs:
                matrix[: self._high] = slabs[0][: self._high]
            slabs[:] = [matrix]
            capacity = new_capacity
        while capacity < needed:
            slabs.append(np.empty((full, self.dims), dtype=np.float32))
            capacity += full
        self._capacity = capacity
        if len(self._row_item) < capacity:
            # One int per row: doubling it costs little, and keeps it one array.
            row_item = np.full(max(capacity, 2 * len(self._row_item)), _FREE, dtype=np.int64)
            row_item[: len(self._row_item)] = self._row_item
            self._row_item = row_item
            row_scale = np.ones(len(row_item), dtype=np.float32)
            row_scale[: len(self._row_scale)] = self._row_scale
            self._row_scale = row_scale

    # --- reads ---

    def namespaces(self, prefix: Namespace = ()) -> list[Namespace]:
        """The namespaces with vectors under ``prefix``, sorted."""
        return namespaces_under(self._sorted_namespaces, prefix)

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
        if need <= 0 or self._live == 0:
            return []
        q = normalize_rows(query, self.dims)[0]
        rows: IntArray | None
        if candidates is not None:
            picked = self._candidate_rows(tuple(prefix), candidates)
            scores = self._scores_at(picked, q)
            rows = picked
        else:
            scores, rows = self._scope_scores(q, tuple(prefix))
        if len(scores) == 0:
            return []
        found = self._top_items(scores, rows, need, accept)
        return found[offset:need]

    def _scope_scores(
        self, q: FloatMatrix, prefix: Namespace
    ) -> tuple[npt.NDArray[np.float32], IntArray | None]:
        """Scores of every row under ``prefix`` and their matrix rows (``None``: row = position)."""
        partitions = [self._partitions[ns] for ns in self.namespaces(prefix)] if prefix else []
        total = sum(p.size for p in partitions) if prefix else self._live
        if total > _FULL_SCAN_SHARE * self._live:
            scores = self._scan_all(q)
            if self._high > self._live:
                scores[self._row_item[: self._high] == _FREE] = -np.inf
            if total < self._live:
                rows = block_rows([b for p in partitions for b in p.blocks()])
                return scores[rows], rows
            return scores, None
        blocks = [b for p in partitions for b in p.blocks()]
        scores = np.empty(total, dtype=np.float32)
        offset_in = 0
        for start, length in blocks:
            dot(self._block(start, length), q, out=scores[offset_in : offset_in + length])
            offset_in += length
        rows = block_rows(blocks)
        scores *= self._row_scale[rows]
        return scores, rows

    def search_ids(
        self, query: Any, prefix: Namespace = (), *, limit: int
    ) -> tuple[list[int], list[float]]:
        """Like :meth:`search` without offset, as item ids (:meth:`address_of`) and scores.

        For hybrid fusion, which joins on ids and needs addresses only for its page.
        """
        if limit <= 0 or self._live == 0:
            return [], []
        scores, rows = self._scope_scores(normalize_rows(query, self.dims)[0], tuple(prefix))
        if len(scores) == 0:
            return [], []
        total = len(scores)
        single = self._live == len(self._ids)
        m = min(total, limit if single else 2 * limit)
        while True:
            top, items = self._ranked_rows(scores, rows, m)
            if not single:
                # First occurrence of each item in best-first order = its best score.
                _, first = np.unique(items, return_index=True)
                first.sort()
                top, items = top[first], items[first]
            if len(items) >= limit or m >= total:
                return items[:limit].tolist(), scores[top[:limit]].tolist()
            m = min(total, m * 4)

    def _ranked_rows(
        self, scores: npt.NDArray[np.float32], rows: IntArray | None, m: int
    ) -> tuple[IntArray, IntArray]:
        """The best ``m`` rows (and ties) best first, as positions in ``scores`` and item ids."""
        # Every row tied with the m-th best, ordered by (score desc, row asc): pages
        # of the same query never overlap or skip on ties.
        top = top_rows(scores, m)
        top = top[np.lexsort((top, -scores[top]))]
        items = self._row_item[top if rows is None else rows[top]]
        if rows is None and (items == _FREE).any():
            # Unused slots (scored -inf) only show up once every live row is in.
            keep = items != _FREE
            top, items = top[keep], items[keep]
        return top, items

    def addresses_of(self, items: Iterable[int]) -> list[Address]:
        """The addresses of item ids that :meth:`search_ids` returned."""
        return list(map(self._item_addr.__getitem__, items))  # type: ignore[arg-type]

    def ids_of(self, addresses: Iterable[Address]) -> list[int | None]:
        """The item id of each address (``None``: it has no vectors)."""
        return list(map(self._ids.get, addresses))

    def scores_of(self, query: Any, addresses: Iterable[Address]) -> dict[Address, float]:
        """Each address's best similarity to ``query`` (addresses without vectors left out).

        What hybrid fusion asks for its keyword-only candidates: one gather and
        one product over their rows, no ranking.
        """
        ids = self._ids
        found = [address for address in addresses if address in ids]
        return dict(zip(found, self.scores_of_ids(query, [ids[a] for a in found]), strict=True))

    def scores_of_ids(self, query: Any, items: Sequence[int]) -> list[float]:
        """The best similarity to ``query`` of each item id, in order."""
        if not items:
            return []
        q = normalize_rows(query, self.dims)[0]
        item_rows = self._item_rows
        if self._live == len(self._ids):
            # One vector per item (the usual index): each item's only row, in C.
            rows = [its[0] for its in map(item_rows.__getitem__, items)]
            return self._scores_at(np.array(rows, dtype=np.int64), q).tolist()
        counts: list[int] = []
        all_rows: list[int] = []
        for item in items:
            its = item_rows[item]
            counts.append(len(its))
            all_rows.extend(its)
        values = self._scores_at(np.array(all_rows, dtype=np.int64), q).tolist()
        best: list[float] = []
        at = 0
        for count in counts:
            best.append(max(values[at : at + count]))
            at += count
        return best

    def _scores_at(self, rows: IntArray, q: FloatMatrix) -> npt.NDArray[np.float32]:
        """The cosine similarity of each of ``rows`` to the unit query ``q``."""
        scores = dot(gather(self._slabs, self._slab_shift, rows, self.dims), q)
        scores *= self._row_scale[rows]
        return scores

    def _block(self, start: int, length: int) -> FloatMatrix:
        """A view of rows ``[start, start + length)``, which lie in one slab."""
        offset = start & (self._slab_rows - 1)
        return self._slabs[start >> self._slab_shift][offset : offset + length]

    def _scan_all(self, q: FloatMatrix) -> npt.NDArray[np.float32]:
        """Scores of rows ``[0, high)``: one product per slab into one score vector."""
        high, full = self._high, self._slab_rows
        scores = np.empty(high, dtype=np.float32)
        # Rows never written (segment tails) hold whatever memory held, NaN included;
        # the caller masks them out, so their arithmetic must not warn either.
        with np.errstate(invalid="ignore", over="ignore"):
            for number, slab in enumerate(self._slabs):
                start = number * full
                if start >= high:
                    break
                stop = min(high, start + len(slab))
                dot(slab[: stop - start], q, out=scores[start:stop])
            scores *= self._row_scale[:high]
        return scores

    def _candidate_rows(self, prefix: Namespace, candidates: Iterable[Address]) -> IntArray:
        picked: list[int] = []
        for namespace, key in candidates:
            if namespace[: len(prefix)] != prefix:
                continue
            item = self._ids.get((namespace, key))
            if item is not None:
                picked.extend(self._item_rows[item])
        return np.array(picked, dtype=np.int64)

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
        m = min(total, need * 2 if self._live > len(self._ids) or accept else need)
        verdicts: dict[int, bool] = {}
        while True:
            top, items = self._ranked_rows(scores, rows, m)
            item_addr = self._item_addr
            if self._live == len(self._ids):
                # One vector per item: every row is a distinct item, already best first.
                if accept is None:
                    top, items = top[:need], items[:need]
                    # (namespace, key) + (score,) for each, in C: no Python loop per hit.
                    return list(
                        map(
                            tuple.__add__,  # type: ignore[arg-type]  # addresses + (score,)
                            map(item_addr.__getitem__, items.tolist()),
                            zip(scores[top].tolist()),
                        )
                    )
                first: npt.NDArray[np.intp] = np.arange(len(items))
            else:
                # First occurrence of each item in best-first order = its best score.
                _, first = np.unique(items, return_index=True)
                first.sort()
            found: list[tuple[Namespace, str, float]] = []
            # Python ints and floats in one step each: no numpy scalar per item.
            for item, score in zip(items[first].tolist(), scores[top[first]].tolist(), strict=True):
                address = item_addr[item]
                assert address is not None
                if accept is not None:
                    ok = verdicts.get(item)
                    if ok is None:
                        ok = verdicts[item] = bool(accept(*address))
                    if not ok:
                        continue
                found.append((address[0], address[1], score))
                if len(found) == need:
                    return found
            if m >= total:
                return found
            m = min(total, m * 4)
