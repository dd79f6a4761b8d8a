"""The read half of :class:`~threadloom.store._vectors.VectorIndex`: its searches.

``VectorIndex`` keeps the state (the slab matrix and its bookkeeping) and the
writes; this mixin scores rows against a query, ranks them, and hands hybrid
fusion what it joins on (key lookups, copies of given rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.store._fingerprint import KeyLookup, fingerprints
from threadloom.store._slabs import (
    FREE,
    Partition,
    block_rows,
    dot,
    gather,
    namespaces_under,
    normalize_rows,
    top_rows,
)

__all__ = ["VectorReads"]

Namespace = tuple[str, ...]
Address = tuple[Namespace, str]
FloatMatrix = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# A scope holding more than this share of all rows is scored with one product
# over the whole matrix instead of block by block.
_FULL_SCAN_SHARE = 0.3


class VectorReads:
    """Searches over the state :class:`~threadloom.store._vectors.VectorIndex` keeps."""

    # VectorIndex's state (see VectorIndex.clear).
    dims: int
    _slabs: list[FloatMatrix]
    _slab_shift: int
    _slab_rows: int
    _row_item: IntArray
    _row_key: IntArray
    _row_scale: npt.NDArray[np.float32]
    _high: int
    _live: int
    _item_addr: list[Address | None]
    _item_rows: list[list[int]]
    _ids: dict[Address, int]
    _partitions: dict[Namespace, Partition]
    _sorted_namespaces: list[Namespace]

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
        scores, rows, _ = self._scope_product(q, prefix, None)
        return scores, rows

    def _scope_product(
        self, q: FloatMatrix, prefix: Namespace, keep: IntArray | None
    ) -> tuple[npt.NDArray[np.float32], IntArray | None, FloatMatrix | None]:
        """:meth:`_scope_scores`, and a copy of the vectors at rows ``keep`` (under the
        prefix), taken block by block while the product has them in cache."""
        partitions = [self._partitions[ns] for ns in self.namespaces(prefix)] if prefix else []
        total = sum(p.size for p in partitions) if prefix else self._live
        if total > _FULL_SCAN_SHARE * self._live:
            scores = self._scan_all(q)
            if self._high > self._live:
                scores[self._row_item[: self._high] == FREE] = -np.inf
            kept = None if keep is None else gather(self._slabs, self._slab_shift, keep, self.dims)
            if total < self._live:
                rows = block_rows([b for p in partitions for b in p.blocks()])
                return scores[rows], rows, kept
            return scores, None, kept
        blocks = [b for p in partitions for b in p.blocks()]
        scores = np.empty(total, dtype=np.float32)
        kept = None
        if keep is not None:
            kept = np.empty((len(keep), self.dims), dtype=np.float32)
            by_row = np.argsort(keep)
            keep_sorted = keep[by_row]
        offset_in = 0
        for start, length in blocks:
            block = self._block(start, length)
            dot(block, q, out=scores[offset_in : offset_in + length])
            offset_in += length
            if kept is not None:
                first, last = np.searchsorted(keep_sorted, (start, start + length))
                if first < last:
                    kept[by_row[first:last]] = block[keep_sorted[first:last] - start]
        rows = block_rows(blocks)
        scores *= self._row_scale[rows]
        return scores, rows, kept

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
        top, items = self._best_items(scores, rows, limit)
        return items.tolist(), scores[top].tolist()

    @property
    def one_vector_per_item(self) -> bool:
        """Whether every item has exactly one vector (the usual index)."""
        return self._live == len(self._ids)

    def search_scope(
        self, query: Any, prefix: Namespace, *, limit: int, keep: IntArray
    ) -> tuple[IntArray, npt.NDArray[np.float32], IntArray, FloatMatrix, IntArray | None]:
        """:meth:`search_ids` as arrays, with the matrix rows of those items, a copy of
        the vectors at rows ``keep`` (rows under ``prefix``, for :meth:`similarities_at`),
        and the items' places in :meth:`namespace_rows` when the prefix is one namespace
        scored block by block (``None`` otherwise).

        For hybrid fusion in one namespace: it joins both sides on key fingerprints,
        and its keyword candidates' vectors are copied while the product reads them.
        """
        empty = np.empty(0, dtype=np.int64)
        if limit <= 0 or self._live == 0:
            kept = gather(self._slabs, self._slab_shift, keep, self.dims)
            return empty, np.empty(0, dtype=np.float32), empty, kept, None
        scores, rows, copied = self._scope_product(
            normalize_rows(query, self.dims)[0], tuple(prefix), keep
        )
        assert copied is not None
        if len(scores) == 0:
            return empty, np.empty(0, dtype=np.float32), empty, copied, None
        top, items = self._best_items(scores, rows, limit)
        if rows is None:
            return items, scores[top], top, copied, None
        return items, scores[top], rows[top], copied, top

    def namespace_rows(self, namespace: Namespace) -> IntArray:
        """The namespace's matrix rows, in the order its searches score them."""
        return block_rows(list(self._partitions[namespace].blocks()))

    def _best_items(
        self, scores: npt.NDArray[np.float32], rows: IntArray | None, limit: int
    ) -> tuple[IntArray, IntArray]:
        """The best ``limit`` items, best first: positions of their best rows, and their ids."""
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
                return top[:limit], items[:limit]
            m = min(total, m * 4)

    def sort_keys(self, prefix: Namespace = ()) -> None:
        """Build the key lookup of every namespace under ``prefix`` now (a loader's last
        step), so that no search pays for it; later puts keep them up to date."""
        for namespace in self.namespaces(prefix):
            self.key_lookup(namespace)

    def key_lookup(self, namespace: Namespace) -> KeyLookup:
        """The key fingerprints of the namespace's rows, sorted, with their matrix rows."""
        partition = self._partitions[namespace]
        if partition.lookup is None:
            rows = self.namespace_rows(namespace)
            item_addr = self._item_addr
            keys = fingerprints(
                [item_addr[item][1] for item in self._row_item[rows].tolist()]
            )
            self._row_key[rows] = keys
            partition.lookup = KeyLookup(keys, rows)
        return partition.lookup

    def row_keys(self, rows: IntArray) -> IntArray:
        """The key fingerprint of each row's item, as an ``(n, 2)`` array (rows of
        namespaces whose :meth:`key_lookup` is built)."""
        return self._row_key[rows]

    def similarities_at(
        self, query: Any, rows: IntArray, vectors: FloatMatrix
    ) -> npt.NDArray[np.float32]:
        """The similarity to ``query`` of each of ``rows``, whose vectors are ``vectors``
        (copied by :meth:`search_scope`): what :meth:`scores_of_ids` gives for their
        items, when each has one vector (the same product, on the same matrix)."""
        if not len(rows):
            return np.empty(0, dtype=np.float32)
        return self._scores_of(vectors, rows, normalize_rows(query, self.dims)[0])

    def _ranked_rows(
        self, scores: npt.NDArray[np.float32], rows: IntArray | None, m: int
    ) -> tuple[IntArray, IntArray]:
        """The best ``m`` rows (and ties) best first, as positions in ``scores`` and item ids."""
        # Every row tied with the m-th best, ordered by (score desc, row asc): pages
        # of the same query never overlap or skip on ties.
        top = top_rows(scores, m)
        top = top[np.lexsort((top, -scores[top]))]
        items = self._row_item[top if rows is None else rows[top]]
        if rows is None and (items == FREE).any():
            # Unused slots (scored -inf) only show up once every live row is in.
            keep = items != FREE
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
        return self._scores_of(gather(self._slabs, self._slab_shift, rows, self.dims), rows, q)

    def _scores_of(
        self, vectors: FloatMatrix, rows: IntArray, q: FloatMatrix
    ) -> npt.NDArray[np.float32]:
        """The cosine similarity to ``q`` of ``vectors``, the gathered vectors at ``rows``."""
        scores = dot(vectors, q)
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
