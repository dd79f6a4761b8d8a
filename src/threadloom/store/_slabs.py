"""Row-level helpers of :class:`~threadloom.store._vectors.VectorIndex`'s slab matrix.

Products of rows with a query (single-threaded for large blocks), the exact
top-k threshold, and gathering or scattering rows across slabs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["block_rows", "dot", "gather", "scatter", "top_rows"]

FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Above this many rows, score with numpy's single-threaded einsum rather than
# BLAS: OpenBLAS runs larger matrix-vector products on several threads, which
# buys little (the product is memory-bound) and stalls for tens of ms on a busy
# machine; up to here it stays on one thread and beats einsum.
_BLAS_MAX_ROWS = 1024
# Sample size for the top-k threshold estimate in top_rows.
_SAMPLE = 8192


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
