"""An in-memory BM25 keyword index, partitioned by namespace.

The in-memory store keeps one :class:`KeywordIndex` next to its vector index
and calls :meth:`~KeywordIndex.put` / :meth:`~KeywordIndex.delete` on every
write, delete and TTL expiry. Nothing is rebuilt per query: postings, document
lengths and document frequencies are maintained incrementally.

Layout
    One partition per namespace tuple. A search under a prefix visits only the
    partitions whose namespace starts with it (found through a prefix map),
    so one user's search never touches another user's rows.

Documents
    An item may index several texts (one per index path, like its vectors);
    each text is one BM25 document (a *row*). An item's score is the best score
    of its rows, the same de-duplication vector search uses.

Score
    Okapi BM25 with ``k1=1.2, b=0.75`` and the always-positive IDF
    ``ln(1 + (N - df + 0.5) / (df + 0.5))``. Corpus statistics (``N``, ``df``,
    average length) are those of the **searched scope**: the live rows under
    the searched prefix, summed from per-partition counters at query time. So a
    user's ranking depends only on that user's memories, and another tenant's
    writes never change it. Scores are ``> 0`` for a row sharing at least one
    term with the query and are not bounded above; rows sharing no term are
    not returned.

The index is not thread-safe on its own: the owning store serializes calls.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from itertools import repeat
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from threadloom.store._text import query_terms, terms

__all__ = [
    "BM25_B",
    "BM25_K1",
    "KeywordHit",
    "KeywordIndex",
    "KeywordScores",
    "bm25_idf",
    "score_matches",
]

BM25_K1 = 1.2
BM25_B = 0.75

# A partition is compacted when dead rows outnumber live ones (and are at least
# this many), which keeps stale postings bounded at an amortized O(1) per write.
_COMPACT_MIN_DEAD = 64
# Beyond this many extra ties at a search's cut-off, they are picked by address
# without building a hit for each (see _pick_ties).
_TIES_BEFORE_PICKING = 64
# New keys a partition ranks one at a time before it drops its ranks (each costs O(slots)).
_RANK_ONE_BY_ONE = 64
# A search over at least this many partitions scores them together (_score_together).
_SCORE_TOGETHER = 3

_Namespace = tuple[str, ...]


class KeywordHit(NamedTuple):
    """One item matched by a keyword search, with its BM25 score."""

    namespace: _Namespace
    key: str
    score: float


# KeywordHit from a (namespace, key, score) tuple, without the Python-level __new__.
_new_hit = partial(tuple.__new__, KeywordHit)


def bm25_idf(n_docs: int, doc_freq: int) -> float:
    """BM25 inverse document frequency; positive even for a term in every document."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


class _Postings:
    """Rows containing one term and the term's count in each: growable arrays."""

    __slots__ = ("rows", "size", "tfs")

    def __init__(self) -> None:
        self.rows = np.empty(4, dtype=np.int32)
        self.tfs = np.empty(4, dtype=np.float32)
        self.size = 0

    def append(self, row: int, tf: int) -> None:
        if self.size == len(self.rows):
            self.rows = np.resize(self.rows, 2 * self.size)
            self.tfs = np.resize(self.tfs, 2 * self.size)
        self.rows[self.size] = row
        self.tfs[self.size] = tf
        self.size += 1


class _Partition:
    """The rows of one namespace: postings, per-row lengths and live counters."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.postings: dict[str, _Postings] = {}
        self.doc_freq: Counter[str] = Counter()
        self.row_len = np.zeros(8, dtype=np.float32)
        self.row_alive = np.zeros(8, dtype=bool)
        self.row_item = np.zeros(8, dtype=np.int32)
        self.row_terms: list[Counter[str] | None] = []
        self.item_keys: list[str | None] = []
        self.item_rows: dict[str, list[int]] = {}
        self.item_slot: dict[str, int] = {}
        self.live_rows = 0
        self.dead_rows = 0
        self.total_len = 0
        # Whether every row's item slot is larger than the previous row's (no item with
        # two rows, no slot reused out of order): then scoring needs no per-item max.
        self.rows_in_slot_order = True
        # Each slot's place in key order (built on demand, then kept up to date for a
        # few new keys at a time), and the slots' keys in that order (empty slots: "").
        self.key_order: npt.NDArray[np.int64] | None = None
        self.ranked_keys: list[str] = []
        self.ranked_since = 0  # new keys ranked one by one since the last full sort

    def __len__(self) -> int:
        return len(self.item_rows)

    def _grow(self, needed: int) -> None:
        capacity = len(self.row_len)
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        self.row_len = np.resize(self.row_len, capacity)
        self.row_alive = np.resize(self.row_alive, capacity)
        self.row_item = np.resize(self.row_item, capacity)

    def put(self, key: str, texts: Sequence[str]) -> None:
        self.put_counters(key, [Counter(terms(text)) for text in texts])

    def put_counters(self, key: str, counters: list[Counter[str]]) -> None:
        old_slot = self.item_slot.get(key)
        self.remove(key)
        self._put_terms(key, counters, old_slot)

    def remove(self, key: str) -> bool:
        rows = self.item_rows.pop(key, None)
        if rows is None:
            return False
        for row in rows:
            counts = self.row_terms[row]
            assert counts is not None
            self.doc_freq.subtract(counts.keys())
            self.total_len -= int(self.row_len[row])
            self.row_alive[row] = False
            self.row_terms[row] = None
        self.live_rows -= len(rows)
        self.dead_rows += len(rows)
        slot = self.item_slot.pop(key)
        self.item_keys[slot] = None
        if self.dead_rows >= _COMPACT_MIN_DEAD and self.dead_rows > self.live_rows:
            self._compact()
        return True

    def _compact(self) -> None:
        """Renumber live rows and drop stale postings (amortized over many removals)."""
        survivors = [
            (key, [self.row_terms[row] for row in rows]) for key, rows in self.item_rows.items()
        ]
        self._reset()
        for key, counters in survivors:
            self._put_terms(key, counters)

    def _put_terms(
        self, key: str, counters: Iterable[Counter[str] | None], reuse: int | None = None
    ) -> None:
        # Re-putting a key takes its old slot back (unless a compaction renumbered
        # the slots meanwhile), so rewrites never grow the slot table.
        if reuse is not None and reuse < len(self.item_keys) and self.item_keys[reuse] is None:
            slot = reuse
            self.item_keys[slot] = key
        else:
            slot = len(self.item_keys)
            self.item_keys.append(key)
            if self.key_order is not None:
                self._rank_new_key(key)
        self.item_slot[key] = slot
        rows: list[int] = []
        for counts in counters:
            if not counts:
                continue  # a text with no terms can never match; keep no row for it
            row = len(self.row_terms)
            self._grow(row + 1)
            if row and self.row_item[row - 1] >= slot:
                self.rows_in_slot_order = False
            self.row_terms.append(counts)
            length = sum(counts.values())
            self.row_len[row] = length
            self.row_alive[row] = True
            self.row_item[row] = slot
            for term, tf in counts.items():
                postings = self.postings.get(term)
                if postings is None:
                    postings = self.postings[term] = _Postings()
                postings.append(row, tf)
            self.doc_freq.update(counts.keys())
            self.total_len += length
            self.live_rows += 1
            rows.append(row)
        self.item_rows[key] = rows

    def key_ranks(self) -> npt.NDArray[np.int64]:
        """Each slot's rank in key order (empty slots first): ties compare as integers."""
        if self.key_order is None:
            labels = [key or "" for key in self.item_keys]
            order = sorted(range(len(labels)), key=labels.__getitem__)
            ranks = np.empty(len(labels), dtype=np.int64)
            ranks[order] = np.arange(len(labels))
            self.key_order = ranks
            self.ranked_keys = [labels[slot] for slot in order]
            self.ranked_since = 0
        return self.key_order

    def ranks_pay_off(self, ties: int) -> bool:
        """Whether ordering ``ties`` tied slots should use :meth:`key_ranks`: they are at
        hand, or sorting the whole partition costs little more than sorting the ties."""
        return self.key_order is not None or 2 * ties >= len(self.item_keys)

    def _rank_new_key(self, key: str) -> None:
        """Rank the slot just appended for ``key``, shifting the ranks after it.

        A search after each put (the usual pattern) then never sorts the whole
        partition again. Each shift costs O(slots), so after a burst of new keys
        the ranks are dropped, to be sorted again by the next search that needs them.
        A deleted key keeps its rank: its slot never matches, and the order of the
        live keys is all that counts.
        """
        assert self.key_order is not None
        if self.ranked_since >= _RANK_ONE_BY_ONE:
            self.key_order = None
            return
        self.ranked_since += 1
        rank = bisect.bisect_right(self.ranked_keys, key)
        self.ranked_keys.insert(rank, key)
        order = self.key_order
        order[order >= rank] += 1
        self.key_order = np.append(order, rank)

    def item_scores(
        self, weighted_terms: Sequence[tuple[str, float]], avg_len: float, k1: float, b: float
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Item slots with a positive score, and their scores (best row per item)."""
        n_rows = len(self.row_terms)
        # float64 and the same operation order as score_matches: SQL backends
        # then compute bit-identical scores, so ties and near-ties agree.
        row_scores = np.zeros(n_rows, dtype=np.float64)
        for term, idf in weighted_terms:
            postings = self.postings.get(term)
            if postings is None:
                continue
            rows = postings.rows[: postings.size]
            tf = postings.tfs[: postings.size].astype(np.float64)
            # Only the posting rows' norms: a search with many partitions pays per row read.
            norm = k1 * (1.0 - b + b * self.row_len[rows].astype(np.float64) / avg_len)
            # A row appears at most once per term's postings, so += on a fancy index is exact.
            row_scores[rows] += idf * tf * (k1 + 1.0) / (tf + norm)
        if self.dead_rows:
            row_scores[~self.row_alive[:n_rows]] = 0.0
        hit_rows = np.flatnonzero(row_scores > 0.0)
        if len(hit_rows) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if self.rows_in_slot_order:
            # One row per item, in slot order: the rows' scores are the items', sorted.
            return self.row_item[hit_rows].astype(np.int64), row_scores[hit_rows]
        best = np.zeros(len(self.item_keys), dtype=np.float64)
        np.maximum.at(best, self.row_item[hit_rows], row_scores[hit_rows])
        slots = np.flatnonzero(best > 0.0)
        return slots, best[slots]


class KeywordIndex:
    """BM25 keyword search over namespace partitions, updated incrementally.

    >>> index = KeywordIndex()
    >>> index.put(("memories", "1"), "a", ["My cousin Xiomara moved to Tromso"])
    >>> index.put(("memories", "1"), "b", ["We adopted a puppy"])
    >>> [hit.key for hit in index.search(("memories",), "Where did Xiomara move?")]
    ['a']
    """

    def __init__(self, *, k1: float = BM25_K1, b: float = BM25_B) -> None:
        if k1 < 0 or not 0.0 <= b <= 1.0:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1 = k1
        self.b = b
        self._partitions: dict[_Namespace, _Partition] = {}
        # Every prefix of every partition's namespace -> those namespaces.
        self._by_prefix: dict[_Namespace, set[_Namespace]] = {}

    def __len__(self) -> int:
        """How many items have at least one indexed text (or an empty entry)."""
        return sum(len(p) for p in self._partitions.values())

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, tuple) or len(address) != 2:
            return False
        partition = self._partitions.get(address[0])
        return partition is not None and address[1] in partition.item_rows

    def put(self, namespace: _Namespace, key: str, texts: Sequence[str]) -> None:
        """Index ``texts`` for the item, replacing whatever it had before."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string")
        self._partition(namespace).put(key, texts)

    def _partition(self, namespace: _Namespace) -> _Partition:
        partition = self._partitions.get(namespace)
        if partition is None:
            partition = self._partitions[namespace] = _Partition()
            for depth in range(len(namespace) + 1):
                self._by_prefix.setdefault(namespace[:depth], set()).add(namespace)
        return partition

    def put_bodies(self, namespace: _Namespace, key: str, bodies: Sequence[str]) -> None:
        """Like :meth:`put`, from texts already turned into terms (``index_text``'s output,
        as the SQL backends store them): no second tokenizing, which is not idempotent."""
        if not bodies:
            self.delete(namespace, key)
            return
        self._partition(namespace).put_counters(
            key, [Counter(body.split(" ")) for body in bodies if body]
        )

    def delete(self, namespace: _Namespace, key: str) -> bool:
        """Forget the item; ``False`` if it was not indexed."""
        partition = self._partitions.get(namespace)
        if partition is None or not partition.remove(key):
            return False
        if not partition.item_rows:
            self._drop_partition(namespace)
        return True

    def delete_prefix(self, prefix: _Namespace) -> int:
        """Forget every item under ``prefix``; returns how many were indexed."""
        removed = 0
        for namespace in list(self._by_prefix.get(prefix, ())):
            removed += len(self._partitions[namespace])
            self._drop_partition(namespace)
        return removed

    def _drop_partition(self, namespace: _Namespace) -> None:
        del self._partitions[namespace]
        for depth in range(len(namespace) + 1):
            members = self._by_prefix[namespace[:depth]]
            members.discard(namespace)
            if not members:
                del self._by_prefix[namespace[:depth]]

    def _scope(self, prefix: _Namespace) -> list[tuple[_Namespace, _Partition]]:
        return [(ns, self._partitions[ns]) for ns in self._by_prefix.get(prefix, ())]

    def term_idf(self, namespace_prefix: _Namespace, query: str) -> list[tuple[str, float]]:
        """The query's terms with their IDF in the scope (0 doc-freq terms included)."""
        scope = self._scope(namespace_prefix)
        n_docs = sum(p.live_rows for _, p in scope)
        return [
            (term, bm25_idf(n_docs, sum(p.doc_freq[term] for _, p in scope)))
            for term in query_terms(query)
        ]

    def coverage(
        self, namespace_prefix: _Namespace, query: str, addresses: Iterable[tuple[_Namespace, str]]
    ) -> dict[tuple[_Namespace, str], float]:
        """For each item, the IDF-weighted share of the query's terms its best text contains.

        ``1.0`` means every query term occurs in one of the item's texts; rare
        terms count more than common ones. Used to re-rank a few hybrid results.
        """
        weighted = [(term, idf) for term, idf in self.term_idf(namespace_prefix, query)]
        total = sum(idf for _, idf in weighted)
        result: dict[tuple[_Namespace, str], float] = {}
        for namespace, key in addresses:
            partition = self._partitions.get(namespace)
            rows = partition.item_rows.get(key, []) if partition is not None else []
            best = 0.0
            for row in rows:
                counts = partition.row_terms[row] if partition is not None else None
                if counts:
                    best = max(best, sum(idf for term, idf in weighted if term in counts))
            result[(namespace, key)] = best / total if total > 0 else 0.0
        return result

    def search_with(
        self,
        namespace_prefix: _Namespace,
        query: str,
        *,
        limit: int,
        addresses: Iterable[tuple[_Namespace, str]],
    ) -> list[KeywordHit]:
        """The best ``limit`` hits, then the hits among ``addresses`` that are not in them.

        What hybrid fusion needs (:func:`~threadloom.store._fusion.fuse_hits`):
        the keyword side's candidates plus the exact BM25 score of each vector
        candidate, without materializing every matching item.
        """
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        scored = self.scored(namespace_prefix, query)
        if scored is None:
            return []
        best = scored.top(limit)
        seen = {hit[:2] for hit in best}
        wanted = list(dict.fromkeys(a for a in addresses if a not in seen))
        return best + [
            _new_hit((namespace, key, score))
            for (namespace, key), score in zip(wanted, scored.scores_of(wanted), strict=True)
            if score > 0.0
        ]

    def scored(self, namespace_prefix: _Namespace, query: str) -> KeywordScores | None:
        """Every match under the prefix, scored; ``None`` when nothing matches."""
        owners, chunks = self._scored(namespace_prefix, query)
        return KeywordScores(owners, chunks) if chunks else None

    def _weights(
        self, scope: list[tuple[_Namespace, _Partition]], query: str
    ) -> tuple[list[tuple[str, float]], float]:
        """The query's terms with their IDF in ``scope``, and the scope's average row length."""
        words = query_terms(query)
        n_docs = sum(p.live_rows for _, p in scope)
        if not words or n_docs == 0:
            return [], 0.0
        avg_len = sum(p.total_len for _, p in scope) / n_docs
        weighted = [
            (term, bm25_idf(n_docs, df))
            for term in words
            if (df := sum(p.doc_freq[term] for _, p in scope)) > 0
        ]
        return weighted, avg_len

    def search(
        self, namespace_prefix: _Namespace, query: str, *, limit: int | None = None
    ) -> list[KeywordHit]:
        """Items under ``namespace_prefix`` sharing a term with ``query``, best first.

        ``limit=None`` returns every matching item (the store then filters and
        pages); otherwise the best ``limit``, chosen with ``argpartition``. A
        query with no terms left (empty, punctuation, stop words) matches nothing.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if limit == 0:
            return []
        scored = self.scored(namespace_prefix, query)
        return [] if scored is None else scored.top(limit)

    def _scored(
        self, namespace_prefix: _Namespace, query: str
    ) -> tuple[
        list[tuple[_Namespace, _Partition, npt.NDArray[np.int64]]], list[npt.NDArray[np.float64]]
    ]:
        """Per partition under the prefix with a match: its matching item slots and their scores."""
        owners: list[tuple[_Namespace, _Partition, npt.NDArray[np.int64]]] = []
        chunks: list[npt.NDArray[np.float64]] = []
        scope = self._scope(namespace_prefix)
        if not scope:
            return owners, chunks
        weighted, avg_len = self._weights(scope, query)
        if not weighted:
            return owners, chunks
        if len(scope) >= _SCORE_TOGETHER:
            # Many partitions (a search across users): their rows in one set of array
            # operations; a partition whose items have several rows keeps its own path.
            together = [(ns, p) for ns, p in scope if p.rows_in_slot_order]
            _score_together(together, weighted, avg_len, self.k1, self.b, owners, chunks)
            scope = [(ns, p) for ns, p in scope if not p.rows_in_slot_order]
        for namespace, partition in scope:
            slots, scores = partition.item_scores(weighted, avg_len, self.k1, self.b)
            if len(slots):
                owners.append((namespace, partition, slots))
                chunks.append(scores)
        return owners, chunks


class KeywordScores:
    """The matches of one keyword query in one scope, scored: the best of them, or any one's score.

    Made by :meth:`KeywordIndex.scored`; valid until the index changes.
    """

    def __init__(
        self,
        owners: list[tuple[_Namespace, _Partition, npt.NDArray[np.int64]]],
        chunks: list[npt.NDArray[np.float64]],
    ) -> None:
        self._owners = owners
        # One flat array of every match's score; partition i's matches sit at
        # [offsets[i], offsets[i + 1]), in slot order.
        self.flat = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        self._slots = (
            owners[0][2] if len(owners) == 1 else np.concatenate([s for _, _, s in owners])
        )
        self._offsets = np.cumsum([0] + [len(slots) for _, _, slots in owners])
        self._owner_of = {namespace: number for number, (namespace, _, _) in enumerate(owners)}

    def scores_of(self, addresses: Sequence[tuple[_Namespace, str]]) -> list[float]:
        """Each address's BM25 score, ``0.0`` for an item that does not match."""
        owners, owner_of = self._owners, self._owner_of
        out = [0.0] * len(addresses)
        asked: list[int] = []
        targets: list[int] = []
        for position, (namespace, key) in enumerate(addresses):
            number = owner_of.get(namespace)
            if number is None:
                continue
            slot = owners[number][1].item_slot.get(key)
            if slot is not None:
                asked.append(position)
                targets.append(number << 32 | slot)
        if not targets:
            return out
        # Each asked item's place in the flat array: its partition's offset plus its
        # slot's place among the partition's (sorted) matching slots, in one search.
        keyed = self._keyed()
        goal = np.array(targets, dtype=np.int64)
        at = np.minimum(np.searchsorted(keyed, goal), len(keyed) - 1)
        found = keyed[at] == goal
        for position, score, ok in zip(asked, self.flat[at].tolist(), found.tolist(), strict=True):
            if ok:
                out[position] = score
        return out

    def scores_of_keys(self, namespace: _Namespace, keys: Iterable[str]) -> npt.NDArray[np.float64]:
        """Each key's BM25 score in ``namespace`` (``0.0``: no match), as one array."""
        keys = list(keys)
        number = self._owner_of.get(namespace)
        if number is None:
            return np.zeros(len(keys), dtype=np.float64)
        _, partition, slots = self._owners[number]
        start, stop = int(self._offsets[number]), int(self._offsets[number + 1])
        # One score per slot (the last one, for keys not in the partition, stays 0).
        dense = np.zeros(len(partition.item_keys) + 1, dtype=np.float64)
        dense[slots] = self.flat[start:stop]
        wanted = np.fromiter(map(partition.item_slot.get, keys, repeat(-1)), np.int64, len(keys))
        return dense[wanted]

    def _keyed(self) -> npt.NDArray[np.int64]:
        """Partition number << 32 | slot of every match, ascending (flat array order)."""
        sizes = np.diff(self._offsets)
        owner = np.repeat(np.arange(len(self._owners), dtype=np.int64), sizes)
        return np.asarray(self._slots, dtype=np.int64) + (owner << 32)

    def top(self, limit: int | None) -> list[KeywordHit]:
        """The best ``limit`` hits (all with ``None``), best first, ties by address."""
        owners, all_scores, all_slots, offsets = self._owners, self.flat, self._slots, self._offsets
        order = _top_order(all_scores, limit)
        if limit is not None and len(order) > 2 * limit + _TIES_BEFORE_PICKING:
            order = _pick_ties(owners, offsets, all_slots, all_scores, order, limit)
        if not len(order):
            return []
        single = len(owners) == 1
        if single:
            namespace, partition, _ = owners[0]
            if partition.ranks_pay_off(len(order)):
                # Many ties in one namespace (a common word): order them by the
                # partition's key ranks, no strings compared.
                slots_in = all_slots[order]
                ranked = np.lexsort((partition.key_ranks()[slots_in], -all_scores[order]))
                if limit is not None:
                    ranked = ranked[:limit]
                keys = partition.item_keys
                return list(
                    map(
                        _new_hit,
                        zip(
                            repeat(namespace),
                            map(keys.__getitem__, slots_in[ranked].tolist()),
                            all_scores[order[ranked]].tolist(),
                        ),
                    )
                )
        slots_of = all_slots[order].tolist()
        which = None if single else np.searchsorted(offsets, order, side="right") - 1
        if single:
            keys = owners[0][1].item_keys
            names = [keys[slot] for slot in slots_of]
        else:
            assert which is not None
            names = [
                owners[owner][1].item_keys[slot]
                for owner, slot in zip(which.tolist(), slots_of, strict=True)
            ]
        # Best score first, ties by (namespace, key): the keys are sorted alone (a list
        # of str sorts much faster than tuples), then numpy orders by score.
        by_key = np.empty(len(names), dtype=np.int64)
        by_key[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        if single:
            ranked = np.lexsort((by_key, -all_scores[order]))
        else:
            assert which is not None
            namespace_rank = np.empty(len(owners), dtype=np.int64)
            namespace_rank[sorted(range(len(owners)), key=lambda i: owners[i][0])] = np.arange(
                len(owners)
            )
            ranked = np.lexsort((by_key, namespace_rank[which], -all_scores[order]))
        if limit is not None:
            ranked = ranked[:limit]
        picked = ranked.tolist()
        scores = all_scores[order[ranked]].tolist()
        if single:
            namespace = owners[0][0]
            return list(
                map(_new_hit, zip(repeat(namespace), map(names.__getitem__, picked), scores))
            )
        assert which is not None
        owner_of = which[ranked].tolist()
        return [
            _new_hit((owners[owner][0], names[i], score))
            for owner, i, score in zip(owner_of, picked, scores, strict=True)
        ]


def score_matches(
    query: str,
    matches: Iterable[tuple[_Namespace, str, str]],
    *,
    n_docs: int,
    total_len: int,
    doc_freq: Mapping[str, int],
    limit: int | None = None,
    k1: float = BM25_K1,
    b: float = BM25_B,
) -> list[KeywordHit]:
    """BM25 for rows a SQL engine matched, equal to :meth:`KeywordIndex.search`'s scores.

    ``matches`` are ``(namespace, key, stored_text)`` rows, ``stored_text``
    being :func:`~threadloom.store._text.index_text` of one indexed text. The
    statistics are those of the searched scope: ``n_docs`` rows, ``total_len``
    terms in them, and each query term's ``doc_freq`` (rows containing it).
    Items appear once, with their best row, best first.
    """
    if n_docs <= 0:
        return []
    avg_len = total_len / n_docs
    weighted = [
        (term, bm25_idf(n_docs, doc_freq.get(term, 0)))
        for term in query_terms(query)
        if doc_freq.get(term, 0) > 0
    ]
    best: dict[tuple[_Namespace, str], float] = {}
    for namespace, key, stored in matches:
        counts = Counter(stored.split())
        norm = k1 * (1.0 - b + b * sum(counts.values()) / avg_len)
        score = 0.0
        for term, idf in weighted:
            tf = counts.get(term, 0)
            if tf:
                score += idf * tf * (k1 + 1.0) / (tf + norm)
        if score > 0.0 and score > best.get((namespace, key), 0.0):
            best[(namespace, key)] = score
    if not best:
        return []
    addresses = list(best)
    scores = np.array([best[a] for a in addresses], dtype=np.float64)
    hits = [
        KeywordHit(addresses[i][0], addresses[i][1], float(scores[i]))
        for i in _top_order(scores, limit).tolist()
    ]
    return _by_score_then_address(hits, limit)


def _score_together(
    scope: list[tuple[_Namespace, _Partition]],
    weighted: Sequence[tuple[str, float]],
    avg_len: float,
    k1: float,
    b: float,
    owners: list[tuple[_Namespace, _Partition, npt.NDArray[np.int64]]],
    chunks: list[npt.NDArray[np.float64]],
) -> None:
    """:meth:`_Partition.item_scores` of partitions whose rows are in slot order, all at once.

    Their rows are laid end to end; each term's postings are scored in one pass
    with the very operations ``item_scores`` runs (bit-identical scores), and
    the hits are cut back into one ``(slots, scores)`` pair per partition.
    """
    if not scope:
        return
    sizes = [len(partition.row_terms) for _, partition in scope]
    bases = np.cumsum([0, *sizes])
    row_len = np.concatenate([p.row_len[:n] for (_, p), n in zip(scope, sizes, strict=True)])
    row_scores = np.zeros(int(bases[-1]), dtype=np.float64)
    for term, idf in weighted:
        found = [
            (number, postings)
            for number, (_, partition) in enumerate(scope)
            if (postings := partition.postings.get(term)) is not None and postings.size
        ]
        if not found:
            continue
        counts = [postings.size for _, postings in found]
        rows = np.concatenate([postings.rows[: postings.size] for _, postings in found]).astype(
            np.int64
        ) + np.repeat(bases[[number for number, _ in found]], counts)
        tf = np.concatenate([postings.tfs[: postings.size] for _, postings in found]).astype(
            np.float64
        )
        norm = k1 * (1.0 - b + b * row_len[rows].astype(np.float64) / avg_len)
        row_scores[rows] += idf * tf * (k1 + 1.0) / (tf + norm)
    if any(partition.dead_rows for _, partition in scope):
        alive = np.concatenate([p.row_alive[:n] for (_, p), n in zip(scope, sizes, strict=True)])
        row_scores[~alive] = 0.0
    hit_rows = np.flatnonzero(row_scores > 0.0)
    if not len(hit_rows):
        return
    row_item = np.concatenate([p.row_item[:n] for (_, p), n in zip(scope, sizes, strict=True)])
    slots, scores = row_item[hit_rows].astype(np.int64), row_scores[hit_rows]
    edges = np.searchsorted(hit_rows, bases).tolist()
    for (namespace, partition), low, high in zip(scope, edges, edges[1:], strict=False):
        if low < high:
            owners.append((namespace, partition, slots[low:high]))
            chunks.append(scores[low:high])


def _top_order(scores: npt.NDArray[np.floating], limit: int | None) -> npt.NDArray[np.int64]:
    """Indices of the best ``limit`` scores plus any tied with the last of them."""
    if limit is not None and limit < len(scores):
        threshold = scores[np.argpartition(-scores, limit - 1)[limit - 1]]
        return np.flatnonzero(scores >= threshold)
    return np.arange(len(scores))


def _pick_ties(
    owners: list[tuple[_Namespace, _Partition, npt.NDArray[np.int64]]],
    offsets: npt.NDArray[np.int64],
    all_slots: npt.NDArray[np.int64],
    all_scores: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    limit: int,
) -> npt.NDArray[np.int64]:
    """The ``limit`` best of ``order`` (the best scores and every tie with the last one),
    ties going to the smallest ``(namespace, key)``, without making a hit of every tie.

    A common word in short texts ties thousands of items; only the namespaces
    that come first are read, and in them only the tied items' keys.
    """
    scores = all_scores[order]
    threshold = np.min(scores)
    above = order[scores > threshold]
    tied = order[scores == threshold]  # ascending: each partition's ties are contiguous
    need = limit - len(above)
    bounds = np.searchsorted(tied, offsets)
    chosen = [above]
    for owner in sorted(range(len(owners)), key=lambda i: owners[i][0]):
        if need <= 0:
            break
        positions = tied[bounds[owner] : bounds[owner + 1]]
        if not len(positions):
            continue
        partition = owners[owner][1]
        if partition.ranks_pay_off(len(positions)):
            # The smallest keys are the smallest ranks: no strings compared.
            ranks = partition.key_ranks()[all_slots[positions]]
            if need < len(ranks):
                positions = positions[np.argpartition(ranks, need - 1)[:need]]
            chosen.append(positions)
            need -= len(positions)
            continue
        keys = partition.item_keys
        slots = all_slots[positions].tolist()
        picked = heapq.nsmallest(
            need, zip([keys[s] for s in slots], positions.tolist(), strict=True)
        )
        chosen.append(np.array([position for _, position in picked], dtype=np.int64))
        need -= len(picked)
    return np.concatenate(chosen)


def _by_score_then_address(hits: list[KeywordHit], limit: int | None) -> list[KeywordHit]:
    """Best first; equal scores by (namespace, key), so every backend orders ties alike."""
    hits.sort(key=lambda hit: (-hit.score, hit.namespace, hit.key))
    return hits if limit is None else hits[:limit]
