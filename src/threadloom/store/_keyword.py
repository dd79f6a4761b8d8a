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
import math
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from threadloom.store._fingerprint import KeyLookup, fingerprint, fingerprints
from threadloom.store._keyword_scores import (
    KeywordHit,
    KeywordScores,
    by_score_then_address,
    new_hit,
    top_order,
)
from threadloom.store._text import query_terms, terms

__all__ = [
    "BM25_B",
    "BM25_K1",
    "KeywordHit",
    "KeywordIndex",
    "KeywordPartition",
    "KeywordScores",
    "bm25_idf",
    "score_matches",
]

BM25_K1 = 1.2
BM25_B = 0.75

# A partition is compacted when dead rows outnumber live ones (and are at least
# this many), which keeps stale postings bounded at an amortized O(1) per write.
_COMPACT_MIN_DEAD = 64
# New keys a partition ranks one at a time before it drops its ranks (each costs O(slots)).
_RANK_ONE_BY_ONE = 64
# A term in at most this many rows is scored in Python (see KeywordPartition.item_scores).
_FEW_POSTINGS = 8
#: Bytes of common terms' BM25 parts a keyword index keeps between searches.
_TERM_PARTS_BYTES = 16 << 20
# A search over at least this many partitions scores them together (_score_together).
_SCORE_TOGETHER = 3

_Namespace = tuple[str, ...]


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


def term_part(
    row_len: npt.NDArray[np.float32],
    postings: _Postings,
    idf: float,
    avg_len: float,
    k1: float,
    b: float,
) -> npt.NDArray[np.float64]:
    """A term's BM25 part in each of its posting rows."""
    rows = postings.rows[: postings.size]
    tf = postings.tfs[: postings.size].astype(np.float64)
    # Only the posting rows' norms: a search with many partitions pays per row read.
    norm = k1 * (1.0 - b + b * row_len[rows].astype(np.float64) / avg_len)
    return idf * tf * (k1 + 1.0) / (tf + norm)


class TermParts:
    """Common terms' BM25 parts (:func:`term_part`), kept between searches up to a budget.

    The queries of a conversation name the same few words again; a part stays right while
    its postings, the term's IDF and the average row length are unchanged (postings only
    grow, and a row keeps its length).
    """

    def __init__(self, budget: int = _TERM_PARTS_BYTES) -> None:
        self.budget = budget
        self.used = 0
        # (partition id, term) -> (postings, their size, idf, avg_len, k1, b, part); the
        # postings object (held) tells a partition that reused a dead one's id apart.
        self._kept: OrderedDict[
            tuple[int, str],
            tuple[_Postings, int, float, float, float, float, npt.NDArray[np.float64]],
        ] = OrderedDict()

    def get(
        self,
        partition: KeywordPartition,
        term: str,
        postings: _Postings,
        idf: float,
        avg_len: float,
        k1: float,
        b: float,
    ) -> npt.NDArray[np.float64]:
        name = (id(partition), term)
        kept = self._kept.get(name)
        if kept is not None:
            if kept[:6] == (postings, postings.size, idf, avg_len, k1, b):
                self._kept.move_to_end(name)
                return kept[6]
            self.used -= kept[6].nbytes
            del self._kept[name]
        part = term_part(partition.row_len, postings, idf, avg_len, k1, b)
        if part.nbytes <= self.budget:
            while self.used + part.nbytes > self.budget:
                _, (*_, dropped) = self._kept.popitem(last=False)
                self.used -= dropped.nbytes
            self._kept[name] = (postings, postings.size, idf, avg_len, k1, b, part)
            self.used += part.nbytes
        return part


class KeywordPartition:
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
        # Per slot: its key's fingerprint, valid while the lookup is built (hybrid fusion
        # joins with the vector index on these; puts without a lookup skip them).
        self.slot_key = np.zeros((0, 2), dtype=np.int64)
        # Sorted fingerprints and their slots: built on demand, told about new keys.
        self.lookup: KeyLookup | None = None
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
        self.remove(key, replacing=True)
        self._put_terms(key, counters, old_slot)

    def remove(self, key: str, *, replacing: bool = False) -> bool:
        """Forget the key's rows; ``replacing``: it is put again at once (same slot)."""
        rows = self.item_rows.pop(key, None)
        if rows is None:
            return False
        if not replacing:
            # Put again later, the key would take a new slot and be in the lookup twice.
            self.lookup = None
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
            if self.lookup is not None:
                # (A slot taken back holds the same key: the lookup already has it.)
                self._remember(key, slot)
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

    def slot_keys(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The key fingerprint of each slot, as an ``(n, 2)`` array."""
        if self.lookup is None:
            self.key_lookup()  # fingerprints every slot
        return self.slot_key[slots]

    def key_lookup(self) -> KeyLookup:
        """The fingerprints of the keys held, sorted, with their slots."""
        if self.lookup is None:
            held = [(slot, key) for slot, key in enumerate(self.item_keys) if key is not None]
            slots = np.array([slot for slot, _ in held], dtype=np.int64)
            keys = fingerprints([key for _, key in held])
            self.slot_key = np.zeros((max(8, 2 * len(self.item_keys)), 2), dtype=np.int64)
            self.slot_key[slots] = keys
            self.lookup = KeyLookup(keys, slots)
        return self.lookup

    def _remember(self, key: str, slot: int) -> None:
        """Tell the built lookup about a key that took a new slot."""
        assert self.lookup is not None
        if slot >= len(self.slot_key):
            self.slot_key = np.resize(self.slot_key, (2 * slot + 2, 2))
        fingerprinted = self.slot_key[slot] = fingerprint(key)
        if not self.lookup.add(fingerprinted, slot):
            self.lookup = None

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
        self,
        weighted_terms: Sequence[tuple[str, float]],
        avg_len: float,
        k1: float,
        b: float,
        parts: TermParts | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Item slots with a positive score, and their scores (best row per item); ``parts``
        keeps common terms' parts between searches."""
        n_rows = len(self.row_terms)
        # float64 and the same operation order as score_matches: SQL backends
        # then compute bit-identical scores, so ties and near-ties agree.
        row_scores = np.zeros(n_rows, dtype=np.float64)
        for term, idf in weighted_terms:
            postings = self.postings.get(term)
            if postings is None:
                continue
            if postings.size <= _FEW_POSTINGS:
                # A rare term: the same operations on Python floats (IEEE doubles, so the
                # very same results) cost less than a dozen numpy calls on a few rows.
                row_len = self.row_len
                for row, count in zip(
                    postings.rows[: postings.size].tolist(),
                    postings.tfs[: postings.size].tolist(),
                    strict=True,
                ):
                    row_norm = k1 * (1.0 - b + b * float(row_len[row]) / avg_len)
                    row_scores[row] += idf * count * (k1 + 1.0) / (count + row_norm)
                continue
            rows = postings.rows[: postings.size]
            # A row appears at most once per term's postings, so += on a fancy index is exact.
            if parts is None:
                row_scores[rows] += term_part(self.row_len, postings, idf, avg_len, k1, b)
            else:
                row_scores[rows] += parts.get(self, term, postings, idf, avg_len, k1, b)
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
        self._partitions: dict[_Namespace, KeywordPartition] = {}
        self._term_parts = TermParts()
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

    def sort_keys(self, prefix: _Namespace = ()) -> None:
        """Build the key lookup of every namespace under ``prefix`` now (a loader's last
        step), so that no search pays for it; later puts keep them up to date."""
        for _, partition in self._scope(prefix):
            partition.key_lookup()

    def _partition(self, namespace: _Namespace) -> KeywordPartition:
        partition = self._partitions.get(namespace)
        if partition is None:
            partition = self._partitions[namespace] = KeywordPartition()
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

    def _scope(self, prefix: _Namespace) -> list[tuple[_Namespace, KeywordPartition]]:
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
            new_hit((namespace, key, score))
            for (namespace, key), score in zip(wanted, scored.scores_of(wanted), strict=True)
            if score > 0.0
        ]

    def scored(self, namespace_prefix: _Namespace, query: str) -> KeywordScores | None:
        """Every match under the prefix, scored; ``None`` when nothing matches."""
        owners, chunks = self._scored(namespace_prefix, query)
        return KeywordScores(owners, chunks) if chunks else None

    def _weights(
        self, scope: list[tuple[_Namespace, KeywordPartition]], query: str
    ) -> tuple[list[tuple[str, float]], float]:
        """The query's terms with their IDF in ``scope``, and the scope's average row length."""
        words = query_terms(query)
        if len(scope) == 1:
            # One namespace (the usual search): its counters as they are.
            partition = scope[0][1]
            n_docs, total_len = partition.live_rows, partition.total_len
            if not words or n_docs == 0:
                return [], 0.0
            doc_freq = partition.doc_freq
            frequencies = [(term, doc_freq.get(term, 0)) for term in words]
        else:
            n_docs = sum(p.live_rows for _, p in scope)
            if not words or n_docs == 0:
                return [], 0.0
            total_len = sum(p.total_len for _, p in scope)
            frequencies = [(term, sum(p.doc_freq[term] for _, p in scope)) for term in words]
        weighted = [(term, bm25_idf(n_docs, df)) for term, df in frequencies if df > 0]
        return weighted, total_len / n_docs

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
        list[tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]]], list[npt.NDArray[np.float64]]
    ]:
        """Per partition under the prefix with a match: its matching item slots and their scores."""
        owners: list[tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]]] = []
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
            slots, scores = partition.item_scores(
                weighted, avg_len, self.k1, self.b, self._term_parts
            )
            if len(slots):
                owners.append((namespace, partition, slots))
                chunks.append(scores)
        return owners, chunks


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
        for i in top_order(scores, limit).tolist()
    ]
    return by_score_then_address(hits, limit)


def _score_together(
    scope: list[tuple[_Namespace, KeywordPartition]],
    weighted: Sequence[tuple[str, float]],
    avg_len: float,
    k1: float,
    b: float,
    owners: list[tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]]],
    chunks: list[npt.NDArray[np.float64]],
) -> None:
    """:meth:`KeywordPartition.item_scores` of partitions whose rows are in slot order, all at once.

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
