"""The pieces of :class:`~threadloom.store._vectors.VectorIndex`'s slab matrix.

Unit rows (:func:`normalize_rows`), a namespace's segments of the matrix
(:class:`Partition`), products of rows with a query (single-threaded for
large blocks), the exact top-k threshold, and gathering or scattering rows
across slabs.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from threadloom.store._fingerprint import KeyLookup

__all__ = [
    "FREE",
    "Partition",
    "block_rows",
    "dot",
    "gather",
    "namespaces_under",
    "normalize_rows",
    "scatter",
    "top_rows",
]

Namespace = tuple[str, ...]
FloatMatrix = npt.NDArray[np.float32]
# A matrix row that belongs to no item.
FREE = -1
IntArray = npt.NDArray[np.int64]

# Above this many rows, score with numpy's single-threaded einsum rather than
# BLAS: OpenBLAS runs larger matrix-vector products on several threads, which
# buys little (the product is memory-bound) and stalls for tens of ms on a busy
# machine; up to here it stays on one thread and beats einsum.
_BLAS_MAX_ROWS = 1024
# Sample size for the top-k threshold estimate in top_rows.
_SAMPLE = 8192


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


class Partition:
    """One namespace's segments ``[start, capacity]``; its live rows fill them in order."""

    __slots__ = ("capacity", "lookup", "segments", "size")

    def __init__(self) -> None:
        self.segments: list[list[int]] = []
        self.capacity = 0
        self.size = 0
        # Its rows' key fingerprints, sorted: built on demand, dropped when its rows change.
        self.lookup: KeyLookup | None = None

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


def dot(matrix: FloatMatrix, q: FloatMatrix, out: FloatMatrix | None = None) -> FloatMatrix:
    """``matrix @ q``, single-threaded for large matrices."""
    if len(matrix) > _BLAS_MAX_ROWS:
        return cast("FloatMatrix", np.einsum("ij,j->i", matrix, q, out=out))
    if out is None:
        return matrix @ q
    np.matmul(matrix, q, out=out)
    return out


def top_rows(scores: npt.NDArray[np.float32], m: int) -> IntArray:
    """Positions of every score >= the ``m``-th largest (ties included), unordered.

    The ``m``-th largest of an evenly spread sample is a lower bound for the
    ``m``-th largest of all scores, so one comparison pass leaves a few hundred
    candidates, and the exact threshold is found among those: much cheaper
    than ``argpartition`` over every score, and still exact.
    """
    total = len(scores)
    if m >= total:
        return np.arange(total)
    stride = total // max(_SAMPLE, 8 * m)
    if stride >= 4:
        sample = scores[::stride]
        bound = np.partition(sample, len(sample) - m)[len(sample) - m]
        candidates = np.flatnonzero(scores >= bound)
        if len(candidates) <= total // 4:
            picked = scores[candidates]
            threshold = np.partition(picked, len(picked) - m)[len(picked) - m]
            return candidates[picked >= threshold]
    threshold = np.partition(scores, total - m)[total - m]
    return np.flatnonzero(scores >= threshold)


def _slab_groups(shift: int, rows: IntArray) -> Iterator[tuple[int, IntArray | None]]:
    """``(slab, positions in rows)`` per slab that ``rows`` touch (``None``: all of them)."""
    which = rows >> shift
    first = int(which[0])
    if first == int(which[-1]) and (which == first).all():
        yield first, None
        return
    for slab in np.unique(which).tolist():
        yield slab, np.flatnonzero(which == slab)


def scatter(slabs: list[FloatMatrix], shift: int, rows: IntArray, block: FloatMatrix) -> None:
    """``slabs[rows] = block`` across slabs."""
    if not len(rows):
        return
    mask = (1 << shift) - 1
    for slab, picked in _slab_groups(shift, rows):
        if picked is None:
            slabs[slab][rows & mask] = block
        else:
            slabs[slab][rows[picked] & mask] = block[picked]


def gather(slabs: list[FloatMatrix], shift: int, rows: IntArray, dims: int) -> FloatMatrix:
    """The vectors at ``rows``, in order, as one new matrix."""
    if not len(rows):
        return np.empty((0, dims), dtype=np.float32)
    mask = (1 << shift) - 1
    out = np.empty((len(rows), dims), dtype=np.float32)
    for slab, picked in _slab_groups(shift, rows):
        if picked is None:
            return slabs[slab][rows & mask]
        out[picked] = slabs[slab][rows[picked] & mask]
    return out


def block_rows(blocks: list[tuple[int, int]]) -> IntArray:
    """The matrix rows of ``(start, length)`` blocks, in order."""
    if not blocks:
        return np.empty(0, dtype=np.int64)
    if len(blocks) == 1:
        start, length = blocks[0]
        return np.arange(start, start + length, dtype=np.int64)
    return np.concatenate([np.arange(s, s + n, dtype=np.int64) for s, n in blocks])
