"""Hybrid search over the in-process indexes: :func:`~threadloom.store._fusion.fuse_hits`'
ranking, computed on item ids.

A store that holds both a :class:`~threadloom.store._vectors.VectorIndex` and a
:class:`~threadloom.store._keyword.KeywordIndex` in memory (the in-memory
store, and the SQLite store's caches) fuses here when every indexed item under
the prefix counts (no filter, nothing expired). The result is the one
:func:`~threadloom.store._fusion.fuse_hits` gives for the same hits (a test
holds the two equal), but the vector side stays item ids and numpy arrays, and
joins go through C-level maps: with a few hundred candidates per query, the
general recipe's per-candidate dictionaries of ``(namespace, key)`` tuples
cost more than both searches together.
"""

from __future__ import annotations

from itertools import compress
from operator import itemgetter

import numpy as np

from threadloom.store._fusion import FusionConfig, fuse_scores
from threadloom.store._keyword import KeywordIndex
from threadloom.store._vectors import VectorIndex

__all__ = ["fuse_in_memory"]

_Namespace = tuple[str, ...]
_address = itemgetter(0, 1)
_key = itemgetter(1)


def fuse_in_memory(
    vectors: VectorIndex,
    keywords: KeywordIndex,
    query_vector: object,
    query: str,
    prefix: _Namespace,
    *,
    limit: int,
    config: FusionConfig,
) -> list[tuple[_Namespace, str, float]]:
    """The best ``limit`` items of the fused ranking, as ``(namespace, key, fused score)``.

    Every vector and keyword entry under ``prefix`` counts; ``config.candidates``
    must be at least ``limit`` (widen it for deep pages, as for ``fuse_hits``).
    Equal to ``fuse_hits`` without ``coverage_of``: no re-ranking by coverage.
    """
    pool = config.candidates
    vector_ids, similarity = vectors.search_ids(query_vector, prefix, limit=pool)
    vector_addresses = vectors.addresses_of(vector_ids)
    scored = keywords.scored(prefix, query)
    if scored is None:
        best = []
        keyword = [0.0] * len(vector_ids)
    else:
        best = scored.top(pool)
        namespaces = vectors.namespaces(prefix)
        if len(namespaces) == 1:
            # One namespace holds every vector candidate: look their keys up in C.
            keyword = scored.scores_of_keys(namespaces[0], map(_key, vector_addresses)).tolist()
        else:
            keyword = scored.scores_of(vector_addresses)
    # Keyword candidates that the vector side did not propose, in their order.
    best_addresses = list(map(_address, best))
    best_ids = vectors.ids_of(best_addresses)
    proposed = set(vector_ids)
    new = [item is None or item not in proposed for item in best_ids]
    extra = list(compress(best_addresses, new))
    extra_ids = list(compress(best_ids, new))
    keyword += compress(map(itemgetter(2), best), new)
    found = vectors.scores_of_ids(query_vector, [item for item in extra_ids if item is not None])
    # An item without vectors gets the lowest similarity among the candidates.
    floor = min(similarity + found) if similarity or found else 0.0
    if len(found) == len(extra_ids):
        similarity += found
    else:
        next_found = iter(found)
        similarity += [floor if item is None else next(next_found) for item in extra_ids]
    count = len(similarity)
    if not count:
        return []
    fused = fuse_scores(
        np.fromiter(similarity, np.float64, count), np.fromiter(keyword, np.float64, count), config
    )
    # Best first; equal scores keep the candidates' order (vector side first).
    if limit < count:
        top = np.argpartition(-fused, limit - 1)[:limit] if limit > 0 else np.empty(0, np.intp)
        order = top[np.lexsort((top, -fused[top]))]
    else:
        order = np.lexsort((np.arange(count), -fused))
    candidates = vector_addresses + extra
    return [
        (*candidates[i], score)
        for i, score in zip(order.tolist(), fused[order].tolist(), strict=True)
    ]
