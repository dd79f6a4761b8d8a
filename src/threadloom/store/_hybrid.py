"""Hybrid search over the in-process indexes: :func:`~threadloom.store._fusion.fuse_hits`'
ranking, computed on item ids.

A store that holds both a :class:`~threadloom.store._vectors.VectorIndex` and a
:class:`~threadloom.store._keyword.KeywordIndex` in memory (the in-memory
store, and the SQLite store's caches) fuses here when every indexed item under
the prefix counts (no filter, nothing expired). The result is the one
:func:`~threadloom.store._fusion.fuse_hits` gives for the same hits (a test
holds the two equal), but the vector side stays item ids and numpy arrays:
with a few hundred candidates per query, the general recipe's per-candidate
dictionaries of ``(namespace, key)`` tuples cost more than both searches
together.

In one namespace (one user's memories, the usual search), the two sides join
on key fingerprints (:mod:`~threadloom.store._fingerprint`): each index keeps
a sorted lookup of its keys' fingerprints (sorted when a store loads them or
when first needed, then told about new keys), so matching 100 candidates is a
binary search in numpy instead of 100 dictionary lookups of cold strings, and
the join of the whole namespace is kept, and extended with the keys a write
adds, so that searches read two arrays instead. The keyword side goes first, so
that the vector side's product copies the keyword candidates' vectors while
it reads them. Elsewhere, or when two keys' hashes collide, the sides join
through C-level maps of addresses.
"""

from __future__ import annotations

from itertools import compress
from operator import itemgetter
from typing import NamedTuple
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from threadloom.store._fingerprint import KeyLookup
from threadloom.store._fusion import FusionConfig, fuse_scores
from threadloom.store._keyword import KeywordIndex, KeywordPartition, KeywordScores
from threadloom.store._vectors import VectorIndex

__all__ = ["fuse_in_memory"]

_Namespace = tuple[str, ...]
_address = itemgetter(0, 1)
IntArray = npt.NDArray[np.int64]
_NONE: IntArray = np.empty(0, dtype=np.int64)


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
    scored = keywords.scored(prefix, query)
    if vectors.one_vector_per_item:
        namespaces = vectors.namespaces(prefix)
        owner = None if scored is None else scored.single()
        if len(namespaces) == 1 and (scored is None or (owner and owner[0] == namespaces[0])):
            page = _fuse_one_namespace(
                vectors, scored, query_vector, prefix, namespaces[0], limit=limit, config=config
            )
            if page is not None:
                return page
    return _fuse_by_address(vectors, scored, query_vector, prefix, limit=limit, config=config)


def _fuse_by_address(
    vectors: VectorIndex,
    scored: KeywordScores | None,
    query_vector: object,
    prefix: _Namespace,
    *,
    limit: int,
    config: FusionConfig,
) -> list[tuple[_Namespace, str, float]]:
    """:func:`fuse_in_memory` in general: the two sides join on item addresses."""
    pool = config.candidates
    vector_ids, similarity = vectors.search_ids(query_vector, prefix, limit=pool)
    vector_addresses = vectors.addresses_of(vector_ids)
    if scored is None:
        best = []
        keyword = [0.0] * len(vector_ids)
    else:
        best = scored.top(pool)
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
    candidates = vector_addresses + extra
    return [(*candidates[i], score) for i, score in _best_first(fused, limit)]


def _fuse_one_namespace(
    vectors: VectorIndex,
    scored: KeywordScores | None,
    query_vector: object,
    prefix: _Namespace,
    namespace: _Namespace,
    *,
    limit: int,
    config: FusionConfig,
) -> list[tuple[_Namespace, str, float]] | None:
    """:func:`fuse_in_memory` when one namespace holds every candidate and each item has
    one vector: the two sides join on key fingerprints, in arrays.

    ``None`` when a fingerprint's hash repeats on the side it is looked up in
    (two keys colliding): the caller then joins on addresses.
    """
    pool = config.candidates
    if scored is None:
        vector_ids, similarity, _, _, _ = vectors.search_scope(
            query_vector, prefix, limit=pool, keep=_NONE
        )
        count = proposed = len(vector_ids)
        vector_side = similarity.astype(np.float64)
        keyword_side = np.zeros(count, dtype=np.float64)
        extra_slots: IntArray = _NONE
        keys: list[str | None] = []
    else:
        owner = scored.single()
        assert owner is not None
        _, partition, slots = owner
        keys = partition.item_keys
        # The keyword side's best first, and their vectors' rows (-1: none), so that the
        # vector side's product copies those vectors while it reads them.
        best = scored.best_positions(pool)
        best_slots = slots[best]
        joined = _joined(vectors, namespace, partition)
        if joined is None:
            return None
        best_rows = joined.slot_row[best_slots]
        has_vector = best_rows >= 0
        vector_ids, similarity, vector_rows, copied, places = vectors.search_scope(
            query_vector, prefix, limit=pool, keep=best_rows[has_vector]
        )
        proposed = len(vector_ids)
        # Each vector candidate's slot among the keyword index's keys (-1: none).
        if places is not None:
            where = joined.place_slot[places]
        else:
            found_slots = joined.keyword_lookup.find(vectors.row_keys(vector_rows))
            if found_slots is None:
                return None
            where = found_slots
        by_slot = np.zeros(len(keys) + 1, dtype=np.float64)  # the last: "no slot" (-1)
        by_slot[slots] = scored.flat
        taken = np.zeros(len(keys) + 1, dtype=bool)
        taken[where] = True
        # The keyword side's best that the vector side did not propose, in their order.
        new = ~taken[best_slots]
        extra_slots = best_slots[new]
        count = proposed + len(extra_slots)
        vector_side = np.empty(count, dtype=np.float64)
        vector_side[:proposed] = similarity
        keyword_side = np.empty(count, dtype=np.float64)
        keyword_side[:proposed] = by_slot[where]
        keyword_side[proposed:] = scored.flat[best[new]]
        # Their similarities: one product over their copied vectors (as the recipe's).
        with_vector = new[has_vector]
        found = vectors.similarities_at(
            query_vector, best_rows[has_vector][with_vector], copied[with_vector]
        )
        extra = vector_side[proposed:]
        if len(found) == len(extra):
            extra[:] = found
        else:
            extra_has_vector = has_vector[new]
            extra[extra_has_vector] = found
            # An item without vectors gets the lowest similarity among the candidates.
            known = np.concatenate((similarity, found))
            extra[~extra_has_vector] = float(np.min(known)) if len(known) else 0.0
    if not count:
        return []
    picked = _best_first(fuse_scores(vector_side, keyword_side, config), limit)
    ids = vector_ids.tolist()
    addresses = iter(vectors.addresses_of([ids[i] for i, _ in picked if i < proposed]))
    page: list[tuple[_Namespace, str, float]] = []
    for i, score in picked:
        if i < proposed:
            page.append((*next(addresses), score))
        else:
            key = keys[int(extra_slots[i - proposed])]
            assert key is not None
            page.append((namespace, key, score))
    return page


class _Join(NamedTuple):
    """The two indexes of one namespace matched key by key, and what they held then."""

    vector_lookup: KeyLookup
    vector_added: int
    keyword_lookup: KeyLookup
    keyword_added: int
    place_slot: IntArray  # per place in VectorIndex.namespace_rows: the keyword slot (-1: none)
    slot_row: IntArray  # per keyword slot (and one more, for -1): the vector row (-1: none)


# Per keyword partition (one namespace's keywords): its join with the vector index. Kept
# while both sides' lookups are, and extended with the keys either side was told about
# since (a put between two turns of a chat), so that a search reads two arrays instead
# of looking its candidates up, and a write does not make it match every key again.
_JOINS: WeakKeyDictionary[KeywordPartition, _Join] = WeakKeyDictionary()


def _joined(
    vectors: VectorIndex, namespace: _Namespace, partition: KeywordPartition
) -> _Join | None:
    """``namespace``'s join of both indexes (``None``: two keys' hashes collide)."""
    vector_lookup = vectors.key_lookup(namespace)
    keyword_lookup = partition.key_lookup()
    join = _JOINS.get(partition)
    if (
        join is not None
        and join.vector_lookup is vector_lookup
        and join.keyword_lookup is keyword_lookup
    ):
        if join.vector_added == vector_lookup.added and join.keyword_added == keyword_lookup.added:
            return join
        arrays = _extended(join, vectors, namespace, partition)
    else:
        rows = vectors.namespace_rows(namespace)
        place_slot = keyword_lookup.find(vectors.row_keys(rows))
        if place_slot is None:
            return None
        slot_row = np.full(len(partition.item_keys) + 1, -1, dtype=np.int64)
        matched = place_slot >= 0
        slot_row[place_slot[matched]] = rows[matched]
        arrays = place_slot, slot_row
    if arrays is None:
        return None
    join = _Join(vector_lookup, vector_lookup.added, keyword_lookup, keyword_lookup.added, *arrays)
    _JOINS[partition] = join
    return join


def _extended(
    join: _Join, vectors: VectorIndex, namespace: _Namespace, partition: KeywordPartition
) -> tuple[IntArray, IntArray] | None:
    """``join``'s arrays with the keys both lookups took in since it was made.

    Lookups hold new keys only while nothing moved (a delete or a row moved drops
    them): a new vector row comes at the end of the namespace's places, and a new
    keyword key has a new slot.
    """
    vector_lookup, keyword_lookup = join.vector_lookup, join.keyword_lookup
    rows = vectors.namespace_rows(namespace)
    known = len(join.place_slot)
    new_rows = rows[known:]
    new_place_slot = keyword_lookup.find(vectors.row_keys(new_rows))
    # Keyword keys added since: their slots, and the vector rows of those keys.
    new_slots = keyword_lookup.added_places(join.keyword_added)
    rows_of_slots = vector_lookup.find(partition.slot_keys(new_slots))
    if new_place_slot is None or rows_of_slots is None:
        return None
    slot_row = np.full(len(partition.item_keys) + 1, -1, dtype=np.int64)
    slot_row[: len(join.slot_row) - 1] = join.slot_row[:-1]
    matched = new_place_slot >= 0
    slot_row[new_place_slot[matched]] = new_rows[matched]
    place_slot = np.concatenate((join.place_slot, new_place_slot))
    for slot, row in zip(new_slots.tolist(), rows_of_slots.tolist(), strict=True):
        if row >= 0:
            slot_row[slot] = row
            # A row placed before the join was extended: find its place.
            place_slot[np.flatnonzero(rows == row)] = slot
    return place_slot, slot_row


def _best_first(fused: npt.NDArray[np.float64], limit: int) -> list[tuple[int, float]]:
    """``(candidate, fused score)`` of the best ``limit``; equal scores keep candidate order."""
    count = len(fused)
    if limit < count:
        top = np.argpartition(-fused, limit - 1)[:limit] if limit > 0 else np.empty(0, np.intp)
        order = top[np.lexsort((top, -fused[top]))]
    else:
        order = np.lexsort((np.arange(count), -fused))
    return list(zip(order.tolist(), fused[order].tolist(), strict=True))
