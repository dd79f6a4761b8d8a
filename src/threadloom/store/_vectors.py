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

This module holds the index's state and its writes; its searches are the
:class:`~threadloom.store._vector_reads.VectorReads` half it inherits.

The index is not thread-safe; its owner serializes access (the stores hold a
lock). It never hands out views of its matrix, which moves when it grows.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.store._fingerprint import fingerprint
from threadloom.store._slabs import (
    FREE,
    Partition,
    block_rows,
    gather,
    namespaces_under,
    normalize_rows,
    scatter,
)
from threadloom.store._vector_reads import VectorReads

__all__ = ["VectorIndex", "namespaces_under", "normalize_rows"]

Namespace = tuple[str, ...]
Address = tuple[Namespace, str]
FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

_MIN_CAPACITY = 64
# Target bytes of a full slab (rounded down to a power-of-two row count). Below
# 4 MiB, where numpy starts advising the kernel to back an array with huge pages:
# where none is free, the first write to such a page waits while the kernel
# compacts memory (up to 150 ms inside one batched put, measured), and small
# pages cost searches only a few percent.
_SLAB_BYTES = 3 << 20
# Never fewer rows per slab than this (huge dims: 6,144 dims still fit 3 MiB).
_MIN_SLAB_ROWS = 128
# The smallest segment a partition gets; later ones double its capacity.
_MIN_SEGMENT = 16


class VectorIndex(VectorReads):
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
        # Per matrix row: the item id that owns it, or FREE.
        self._row_item: IntArray = np.empty(0, dtype=np.int64)
        # Per matrix row: its item's key fingerprint, valid in the namespaces whose key
        # lookup is built (hybrid fusion joins on these; puts elsewhere skip them).
        self._row_key: IntArray = np.empty((0, 2), dtype=np.int64)
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
        self._partitions: dict[Namespace, Partition] = {}
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
                self._overwrite(rows, block)
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
        self._remember(address, rows)
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
                if partition.lookup is not None:
                    self._remember(address, [row])
                return
        rows = self._claim(address[0], 1)
        row = rows[0]
        self._slabs[row >> shift][row & mask] = vector
        self._row_item[row] = self._new_item(address, rows)
        self._remember(address, rows)
        self._row_scale[row] = scale
        self._live += 1

    def _remember(self, address: Address, rows: list[int]) -> None:
        """Tell the namespace's key lookup, if built, about an item's new rows."""
        partition = self._partitions[address[0]]
        lookup = partition.lookup
        if lookup is not None:
            key = fingerprint(address[1])
            for row in rows:
                self._row_key[row] = key
                if not lookup.add(key, row):
                    partition.lookup = None
                    return

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

    def _overwrite(self, rows: list[int], block: FloatMatrix) -> None:
        """Write unit rows ``block`` over an item's ``rows``, which stay its own."""
        shift, mask = self._slab_shift, self._slab_rows - 1
        for row, vector in zip(rows, block, strict=True):
            self._slabs[row >> shift][row & mask] = vector
        self._row_scale[rows] = 1.0

    def _overwrite_in_place(
        self, addresses: Sequence[Address], counts: Sequence[int], block: FloatMatrix
    ) -> tuple[list[Address], list[int], FloatMatrix]:
        """Write the rows of items re-put with as many vectors as they had where they are
        (their namespace's rows and key lookup stay as they were); remove the other items
        present. Returns the entries left to add."""
        left: list[Address] = []
        left_counts: list[int] = []
        parts: list[FloatMatrix] = []
        start = 0
        for address, count in zip(addresses, counts, strict=True):
            part = block[start : start + count]
            start += count
            item = self._ids.get(address)
            if item is not None:
                rows = self._item_rows[item]
                if len(rows) == count:
                    self._overwrite(rows, part)
                    continue
                self.remove(*address)
            left.append(address)
            left_counts.append(count)
            parts.append(part)
        rest = np.concatenate(parts) if parts else block[:0]
        return left, left_counts, rest

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
        if not ids.keys().isdisjoint(addresses):
            addresses, counts, block = self._overwrite_in_place(addresses, counts, block)
        if not len(block):
            return
        if not self._free_ids and type(counts) is list and counts.count(1) == len(counts):
            self._add_singles(addresses, block)
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
        remember: list[tuple[Address, list[int]]] = []
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
            if self._partitions[namespace].lookup is not None:
                remember.append((address, rows))
            physical.extend(rows)
        targets = np.array(physical, dtype=np.int64)
        scatter(self._slabs, self._slab_shift, targets, block)
        self._row_item[targets] = np.repeat(np.array(item_ids, dtype=np.int64), kept)
        self._row_scale[targets] = 1.0
        self._live += len(block)
        for address, rows in remember:
            self._remember(address, rows)

    def _add_singles(self, addresses: Sequence[Address], block: FloatMatrix) -> None:
        """:meth:`add_block` for new items of one row each, with no freed id to reuse
        (a bulk load, the usual batch): item ids are the next ones, in order."""
        wanted = Counter(address[0] for address in addresses)
        claimed = {namespace: iter(self._claim(namespace, n)) for namespace, n in wanted.items()}
        physical = [next(claimed[address[0]]) for address in addresses]
        item_rows = [[row] for row in physical]
        first = len(self._item_addr)
        self._item_addr.extend(addresses)
        self._item_rows.extend(item_rows)
        self._ids.update(zip(addresses, range(first, first + len(addresses)), strict=True))
        targets = np.array(physical, dtype=np.int64)
        scatter(self._slabs, self._slab_shift, targets, block)
        self._row_item[targets] = np.arange(first, first + len(addresses), dtype=np.int64)
        self._row_scale[targets] = 1.0
        self._live += len(block)
        looked_up = {ns for ns in wanted if self._partitions[ns].lookup is not None}
        if looked_up:
            for address, rows in zip(addresses, item_rows, strict=True):
                if address[0] in looked_up:
                    self._remember(address, rows)

    def _claim(self, namespace: Namespace, count: int) -> list[int]:
        """Hand out the next ``count`` rows of a partition, growing it by a segment if needed."""
        partition = self._partitions.get(namespace)
        if partition is None:
            partition = self._partitions[namespace] = Partition()
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

    def _remove_row(self, partition: Partition, row: int) -> None:
        partition.lookup = None
        last = partition.physical(partition.size - 1)
        if row != last:
            shift, mask = self._slab_shift, self._slab_rows - 1
            self._slabs[row >> shift][row & mask] = self._slabs[last >> shift][last & mask]
            moved_item = int(self._row_item[last])
            self._row_item[row] = moved_item
            self._row_scale[row] = self._row_scale[last]
            moved_rows = self._item_rows[moved_item]
            moved_rows[moved_rows.index(last)] = row
        self._row_item[last] = FREE
        partition.size -= 1
        self._live -= 1

    def _compact(self) -> None:
        """Pack every partition into as few segments as fit, dropping dead rows."""
        old_slabs, old_row_item, old_row_scale = self._slabs, self._row_item, self._row_scale
        new_of_old = np.full(self._high, FREE, dtype=np.int64)
        self._slabs, self._capacity, self._high, self._dead = [], 0, 0, 0
        self._row_item = np.empty(0, dtype=np.int64)
        self._row_key = np.empty((0, 2), dtype=np.int64)
        self._row_scale = np.empty(0, dtype=np.float32)
        for namespace in self._sorted_namespaces:
            partition = self._partitions[namespace]
            old_rows = block_rows(list(partition.blocks()))
            partition.segments, partition.capacity, partition.size = [], 0, 0
            partition.lookup = None  # every row moves
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
            row_item = np.full(max(capacity, 2 * len(self._row_item)), FREE, dtype=np.int64)
            row_item[: len(self._row_item)] = self._row_item
            self._row_item = row_item
            row_key = np.zeros((len(row_item), 2), dtype=np.int64)
            row_key[: len(self._row_key)] = self._row_key
            self._row_key = row_key
            row_scale = np.ones(len(row_item), dtype=np.float32)
            row_scale[: len(self._row_scale)] = self._row_scale
            self._row_scale = row_scale
