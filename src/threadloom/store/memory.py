"""An in-memory store with semantic, keyword and hybrid search, and TTL.

Values live in Python dicts per namespace; vectors live in one float32
matrix where each namespace owns a few contiguous blocks
(:mod:`threadloom.store._vectors`), so a semantic search is a matrix product
over the namespace prefix's blocks only. The same texts are kept in a BM25
keyword index partitioned by namespace (:mod:`threadloom.store._keyword`),
updated on every write, delete and expiry; hybrid search fuses both rankings
with :func:`threadloom.store._fusion.fuse_hits`. Safe to share between
threads; async methods embed without blocking the event loop.

Example (a real app passes a LangChain ``Embeddings`` or ``"local"``)::

    from threadloom.store.memory import InMemoryStore
    from threadloom.testing.embeddings import HashingEmbed

    store = InMemoryStore(index={"embed": HashingEmbed(64), "dims": 64})
    store.put(("memories", "1"), "a", {"data": "User likes pizza"})
    store.put(("memories", "1"), "b", {"data": "User name is Bob"})
    [hit] = store.search(("memories", "1"), query="what is the user name", limit=1)
    assert hit.key == "b"
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np

from threadloom.errors import IndexNotConfiguredError, InvalidStoreInputError
from threadloom.store._dump import StoredItem, as_lists, epoch_seconds, from_epoch, prepare_load
from threadloom.store._embedding import EmbeddedBatch, ResolvedIndex
from threadloom.store._filters import compile_filter
from threadloom.store._fusion import fuse_hits
from threadloom.store._hybrid import fuse_in_memory
from threadloom.store._items import stored_item, stored_search_item
from threadloom.store._keyword import KeywordIndex
from threadloom.store._modes import fusion_config, text_fields
from threadloom.store._ops import NOT_PROVIDED, matches_condition
from threadloom.store._records import Record, copy_json
from threadloom.store._validate import validated_put
from threadloom.store._vectors import VectorIndex, namespaces_under
from threadloom.store.base import (
    SEARCH_MODES,
    BaseStore,
    DeleteNamespaceOp,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    configured_search_mode,
    get_text_at_path,
    normalize_index_config,
    validate_op,
    validate_ops,
    validate_ttl_config,
    vector_index_config,
)

__all__ = ["InMemoryStore"]

Namespace = tuple[str, ...]
_EPSILON = timedelta(microseconds=1)
_NOTHING: dict[str, Record] = {}  # never written: the miss of a namespace lookup


class InMemoryStore(BaseStore):
    """A thread-safe store held in process memory, with optional semantic index and TTL.

    ``index={"dims": ..., "embed": ..., "fields": [...]}`` enables
    ``search(query=...)`` in every mode (``mode="vector" | "keyword" |
    "hybrid"``; ``index["search_mode"]`` sets the default, ``index["fusion"]``
    tunes hybrid); ``index={"fields": [...]}`` without an embedder gives a
    keyword-only store. ``ttl={"default_ttl": minutes, "refresh_on_read": True,
    "sweep_interval_minutes": n}`` makes items expire (a daemon thread sweeps
    them every ``n`` minutes; expired items are never returned either way).
    """

    supports_ttl = True
    supported_search_modes = SEARCH_MODES

    def __init__(self, *, index: IndexConfig | None = None, ttl: TTLConfig | None = None) -> None:
        index = normalize_index_config(index)
        self.index_config = index
        self._search_mode = configured_search_mode(index)
        self._fusion = fusion_config(index)
        self._index = ResolvedIndex.from_config(vector_index_config(index))
        # The paths whose text is keyword-indexed; None: no keyword index at all.
        self._text_fields = text_fields(index, self._index)
        distance = (index or {}).get("distance_type", "cosine")
        if distance != "cosine":
            raise InvalidStoreInputError(
                f"InMemoryStore scores by cosine similarity only; got distance_type={distance!r}"
            )
        self.ttl_config = validate_ttl_config(ttl)
        self._vectors = VectorIndex(self._index.dims) if self._index else None
        # Built on the first keyword or hybrid search, then kept in step with every
        # write: a store only ever searched by vector pays nothing for it on put.
        self._keywords: KeywordIndex | None = None
        self._lock = threading.RLock()
        self._data: dict[Namespace, dict[str, Record]] = {}
        self._sorted_namespaces: list[Namespace] = []
        self._seq = 0
        self._last_time = datetime.fromtimestamp(0, timezone.utc)
        self._expiring = 0  # records with an expiry: skip TTL checks when there are none
        # No record expires before this (a lower bound: refreshes only push expiries
        # later), so keyword searches skip looking for expired items until then.
        self._earliest_expiry = math.inf
        # Wall-clock seconds, as the database backends keep them: expiries leave the
        # process in dump_items and come back through load_items.
        self._clock: Callable[[], float] = time.time
        self._sweeper: threading.Thread | None = None
        self._sweeper_stop = threading.Event()
        if self.ttl_config and self.ttl_config.get("sweep_interval_minutes"):
            self.start_ttl_sweeper()

    # --- the two abstract methods ---

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; the batch is validated (and embedded) before any op applies."""
        ops = validate_ops(ops)
        filters, modes = self._prepare(ops)
        to_embed = _to_embed(ops, modes)
        plan = self._index.plan(to_embed) if self._index and _embeds(to_embed) else None
        embedded = plan.embed(self._index) if plan and self._index else None
        return self._apply(ops, filters, modes, embedded)

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | Any | None = NOT_PROVIDED,
    ) -> None:
        """Store ``value`` at ``(namespace, key)``, replacing any previous item.

        The same as :meth:`batch` with one :class:`PutOp`, without a batch's
        bookkeeping: single puts are the usual way to add a memory.
        """
        ttl = self._ttl(ttl)
        if value is None:
            # A put of None deletes: the batch path words its checks.
            self.batch([PutOp(namespace, key, value, index, ttl)])
            return
        op = validated_put(namespace, key, value, index, ttl)
        one = rows = None
        if self._index is not None:
            texts = self._index.texts_for(op)
            if len(texts) == 1:
                one = self._index.embed_one(texts[0])
            elif texts:
                rows = self._index.plan([op]).embed(self._index).rows_of(0)
        with self._lock:
            self._put(op, None, self._clock(), self._next_time(), None)
            if self._vectors is not None:
                if one is not None:
                    self._vectors.set_row((namespace, key), one[0], one[1])
                elif rows is None:
                    self._vectors.remove(namespace, key)
                else:
                    self._vectors.set_rows((namespace, key), rows)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`; embedding runs off the event loop."""
        ops = validate_ops(ops)
        filters, modes = self._prepare(ops)
        to_embed = _to_embed(ops, modes)
        plan = self._index.plan(to_embed) if self._index and _embeds(to_embed) else None
        embedded = await plan.aembed(self._index) if plan and self._index else None
        return self._apply(ops, filters, modes, embedded)

    def get(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item at ``(namespace, key)``, or ``None`` (a shortcut past :meth:`batch`)."""
        refresh = self._refresh(refresh_ttl)
        if type(namespace) is tuple and type(key) is str:
            try:
                with self._lock:
                    record = self._data.get(namespace, _NOTHING).get(key)
                    if record is not None:
                        # Only checked addresses are ever stored: a hit needs no checks.
                        return self._item_of(record, namespace, key, refresh, self._clock())
            except TypeError:  # an unhashable label: the checks below name it
                pass
            validate_op(GetOp(namespace, key, refresh))  # a miss still reports bad input
            return None
        op = GetOp(namespace, key, refresh)
        validate_op(op)
        with self._lock:
            return self._get(op, self._clock())

    async def aget(
        self, namespace: tuple[str, ...], key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """Async twin of :meth:`get` (a dict lookup: nothing to wait for)."""
        return self.get(namespace, key, refresh_ttl=refresh_ttl)

    def _prepare(
        self, ops: list[Op]
    ) -> tuple[dict[int, Callable[[Any], bool] | None], dict[int, str]]:
        """Checks that need the store's configuration; raises before anything runs.

        Returns each search's compiled filter and its mode (the op's, else the store's).
        """
        filters: dict[int, Callable[[Any], bool] | None] = {}
        modes: dict[int, str] = {}
        for position, op in enumerate(ops):
            if isinstance(op, SearchOp):
                filters[position] = compile_filter(op.filter)
                mode = modes[position] = op.mode or self._search_mode
                if op.query is None:
                    continue
                if self._text_fields is None:
                    raise IndexNotConfiguredError(
                        "search(query=...) needs a store created with an index, e.g. "
                        "InMemoryStore(index={'embed': ..., 'dims': ...}) or, for keyword "
                        "search only, index={'fields': ['text']}; "
                        "search without query to list items"
                    )
                if mode != "keyword" and self._index is None:
                    raise IndexNotConfiguredError(
                        f"search(mode={mode!r}) needs an embedder, and this store's index has "
                        "none ('embed' and 'dims'); use mode='keyword'"
                    )
        return filters, modes

    def _apply(
        self,
        ops: list[Op],
        filters: dict[int, Callable[[Any], bool] | None],
        modes: dict[int, str],
        embedded: EmbeddedBatch | None,
    ) -> list[Result]:
        results: list[Result] = []
        with self._lock:
            now = self._clock()
            stamp: datetime | None = None  # taken at the first write: reads need no clock
            # Vector changes of consecutive puts are applied together (one block copy);
            # they are flushed before any other op so it sees them.
            pending: dict[tuple[Namespace, str], tuple[int, int] | None] = {}
            for position, op in enumerate(ops):
                if isinstance(op, PutOp):
                    span = embedded.spans.get(position) if embedded else None
                    if stamp is None:
                        stamp = self._next_time()
                    self._put(op, span, now, stamp, pending)
                    results.append(None)
                    continue
                self._flush_vectors(pending, embedded)
                if isinstance(op, GetOp):
                    results.append(self._get(op, now))
                elif isinstance(op, SearchOp):
                    mode = modes[position]
                    query = (
                        embedded.queries[op.query]
                        if embedded and op.query is not None and mode != "keyword"
                        else None
                    )
                    results.append(self._search(op, filters[position], mode, query, now))
                elif isinstance(op, ListNamespacesOp):
                    results.append(self._list_namespaces(op, now))
                elif isinstance(op, DeleteNamespaceOp):
                    results.append(self._delete_namespace(op.namespace_prefix, now))
            self._flush_vectors(pending, embedded)
        return results

    def _flush_vectors(
        self,
        pending: dict[tuple[Namespace, str], tuple[int, int] | None],
        embedded: EmbeddedBatch | None = None,
    ) -> None:
        """Apply the vector changes of the puts seen since the last flush."""
        if not pending or self._vectors is None or embedded is None:
            if self._vectors is not None:
                for namespace, key in pending:
                    self._vectors.remove(namespace, key)
            pending.clear()
            return
        if len(pending) == 1:
            # A single put: no block to assemble.
            [(address, span)] = pending.items()
            start, count = span or (0, 0)
            self._vectors.set_rows(address, embedded.matrix[start : start + count])
            pending.clear()
            return
        addresses = list(pending)
        spans = [span or (0, 0) for span in pending.values()]
        counts = [count for _, count in spans]
        first, expected = spans[0][0], spans[0][0]
        consecutive = True
        for start, count in spans:
            if count and start != expected:
                consecutive = False
                break
            expected += count
        if consecutive:
            # The usual batch: the puts' rows already sit in order in one matrix.
            block = embedded.matrix[first : first + sum(counts)]
        else:
            block = np.concatenate([embedded.matrix[s : s + c] for s, c in spans])
        self._vectors.add_block(addresses, counts, block, normalized=True)
        pending.clear()

    # --- operations (called with the lock held) ---

    def _next_time(self) -> datetime:
        # Strictly increasing, so "newest first" never depends on clock resolution.
        stamp = datetime.now(timezone.utc)
        if stamp <= self._last_time:
            stamp = self._last_time + _EPSILON
        self._last_time = stamp
        return stamp

    def _live(self, record: Record, now: float) -> bool:
        return record.expires_at is None or record.expires_at > now

    def _touch(self, record: Record, now: float) -> None:
        if record.ttl is not None:
            record.expires_at = now + record.ttl * 60.0

    def _get(self, op: GetOp, now: float) -> Item | None:
        record = self._data.get(op.namespace, _NOTHING).get(op.key)
        if record is None:
            return None
        return self._item_of(record, tuple(op.namespace), op.key, op.refresh_ttl, now)

    def _item_of(
        self, record: Record, namespace: Namespace, key: str, refresh: bool, now: float
    ) -> Item | None:
        if not self._live(record, now):
            return None
        if refresh:
            self._touch(record, now)
        return stored_item(
            record.value_copy(), key, namespace, record.created_at, record.updated_at
        )

    def _put(
        self,
        op: PutOp,
        span: tuple[int, int] | None,
        now: float,
        stamp: datetime,
        pending: dict[tuple[Namespace, str], tuple[int, int] | None] | None,
    ) -> None:
        """Apply a put; its vector change goes to ``pending`` (``None``: the caller's to apply)."""
        namespace, key = op.namespace, op.key
        items = self._data.get(namespace)
        old = items.pop(key, None) if items is not None else None
        if old is not None and old.expires_at is not None:
            self._expiring -= 1
        if pending is not None:  # re-inserting moves the key last: pending stays in op order
            pending.pop((namespace, key), None)
        if op.value is None:
            if pending is not None:
                pending[(namespace, key)] = None
            if self._keywords is not None:
                self._keywords.delete(namespace, key)
            if items is not None and not items:
                self._drop_namespace(namespace)
            return
        if items is None:
            items = self._data[namespace] = {}
            bisect.insort(self._sorted_namespaces, namespace)
        created = (
            old.created_at
            if old is not None and (old.expires_at is None or old.expires_at > now)
            else stamp
        )
        self._seq += 1
        ttl = op.ttl
        expires_at = None
        if ttl is not None:
            expires_at = now + ttl * 60.0
            self._expiring += 1
            self._earliest_expiry = min(self._earliest_expiry, expires_at)
        # validate_ops already replaced the caller's value by a normalized copy
        # (what a database backend would give back), so it can be kept as is.
        # Re-inserting keeps each namespace's dict ordered oldest to newest update.
        items[key] = Record(op.value, created, stamp, self._seq, ttl, expires_at, op.index)
        if pending is not None:
            pending[(namespace, key)] = span
        if self._keywords is not None:
            assert self._text_fields is not None
            texts = _indexed_texts(op.value, op.index, self._text_fields)
            if texts:
                self._keywords.put(namespace, key, texts)
            else:
                # index=False (or no text at the paths): the old text must not linger.
                self._keywords.delete(namespace, key)

    def _drop_namespace(self, namespace: Namespace) -> None:
        del self._data[namespace]
        index = bisect.bisect_left(self._sorted_namespaces, namespace)
        del self._sorted_namespaces[index]

    def _namespaces_under(self, prefix: Namespace) -> list[Namespace]:
        return namespaces_under(self._sorted_namespaces, prefix)

    def _search(
        self,
        op: SearchOp,
        matches: Callable[[Any], bool] | None,
        mode: str,
        query: Any,
        now: float,
    ) -> list[SearchItem]:
        prefix = op.namespace_prefix
        hits: list[tuple[Namespace, str, Record, float | None]] = []
        if op.query is not None and mode != "vector":
            if op.limit == 0:
                return []
            scored = (
                self._keyword_hits(op, matches, now)
                if mode == "keyword"
                else self._hybrid_hits(op, matches, query, now)
            )
            hits = [(ns, key, self._data[ns][key], score) for ns, key, score in scored]
        elif query is not None:
            assert self._vectors is not None
            accept = self._acceptor(matches, now)
            for namespace, key, score in self._vectors.search(
                query, prefix, limit=op.limit, offset=op.offset, accept=accept
            ):
                hits.append((namespace, key, self._data[namespace][key], score))
        else:
            skip = op.offset
            for namespace, key, record in self._newest_first(prefix):
                if len(hits) >= op.limit:
                    break
                if not self._live(record, now) or (
                    matches is not None and not matches(record.value)
                ):
                    continue
                if skip:
                    skip -= 1
                    continue
                hits.append((namespace, key, record, None))
        results = []
        for namespace, key, record, found_score in hits:
            if op.refresh_ttl:
                self._touch(record, now)
            results.append(
                stored_search_item(
                    namespace,
                    key,
                    record.value_copy(),
                    record.created_at,
                    record.updated_at,
                    found_score,
                )
            )
        return results

    def _acceptor(
        self, matches: Callable[[Any], bool] | None, now: float
    ) -> Callable[[Namespace, str], bool] | None:
        """Is an indexed item live and does it pass the filter? ``None``: every item does."""
        if matches is None and not self._expiring:
            return None

        def accept(namespace: Namespace, key: str) -> bool:
            record = self._data[namespace][key]
            return self._live(record, now) and (matches is None or matches(record.value))

        return accept

    def _keyword_hits(
        self, op: SearchOp, matches: Callable[[Any], bool] | None, now: float
    ) -> list[tuple[Namespace, str, float]]:
        """One page of BM25 hits that are live and pass the filter, best first."""
        self._ensure_keywords()
        assert self._keywords is not None and op.query is not None
        self._forget_expired_keywords(op.namespace_prefix, now)
        need = op.offset + op.limit
        accept = self._acceptor(matches, now)
        if accept is None:
            found = self._keywords.search(op.namespace_prefix, op.query, limit=need)
            return [(hit.namespace, hit.key, hit.score) for hit in found[op.offset :]]
        page: list[tuple[Namespace, str, float]] = []
        skip = op.offset
        for hit in self._keywords.search(op.namespace_prefix, op.query):
            if not accept(hit.namespace, hit.key):
                continue
            if skip:
                skip -= 1
                continue
            page.append((hit.namespace, hit.key, hit.score))
            if len(page) >= op.limit:
                break
        return page

    def _hybrid_hits(
        self, op: SearchOp, matches: Callable[[Any], bool] | None, query: Any, now: float
    ) -> list[tuple[Namespace, str, float]]:
        """One page of the fused ranking (:func:`~threadloom.store._fusion.fuse_hits`)."""
        self._ensure_keywords()
        assert self._vectors is not None and self._keywords is not None and op.query is not None
        vectors, keywords = self._vectors, self._keywords
        prefix, text = op.namespace_prefix, op.query
        need = op.offset + op.limit
        config = self._fusion
        if need > config.candidates:
            # Pages past the pool would come out short: widen it (fuse_hits' contract).
            config = dataclasses.replace(config, candidates=need)
        accept = self._acceptor(matches, now)
        self._forget_expired_keywords(prefix, now)
        if accept is None and not (config.coverage_weight > 0 and config.rerank_depth > 0):
            # Every indexed item counts: fuse on the indexes' item ids (the same ranking).
            fused = fuse_in_memory(
                vectors, keywords, query, text, prefix, limit=need, config=config
            )
            return fused[op.offset :]
        # Every passing match, so an item missing from this list truly scores 0.
        keyword = [
            (hit.namespace, hit.key, hit.score)
            for hit in keywords.search(prefix, text)
            if accept is None or accept(hit.namespace, hit.key)
        ]
        vector = vectors.search(query, prefix, limit=config.candidates, accept=accept)

        def similarity_of(
            addresses: Sequence[tuple[Namespace, str]],
        ) -> dict[tuple[Namespace, str], float]:
            found = vectors.search(query, prefix, limit=len(addresses), candidates=addresses)
            return {(ns, key): score for ns, key, score in found}

        def coverage_of(
            addresses: Sequence[tuple[Namespace, str]],
        ) -> dict[tuple[Namespace, str], float]:
            return keywords.coverage(prefix, text, addresses)

        fused = fuse_hits(
            vector, keyword, similarity_of, limit=need, config=config, coverage_of=coverage_of
        )
        return fused[op.offset :]

    def _ensure_keywords(self) -> None:
        """Build the keyword index from every stored item, once, on first need."""
        if self._keywords is not None:
            return
        assert self._text_fields is not None
        keywords = KeywordIndex()
        for namespace, items in self._data.items():
            for key, record in items.items():
                texts = _indexed_texts(record.value, record.index, self._text_fields)
                if texts:
                    keywords.put(namespace, key, texts)
        self._keywords = keywords

    def _forget_expired_keywords(self, prefix: Namespace, now: float) -> None:
        """Take expired, not yet swept items under ``prefix`` out of the keyword index.

        BM25 statistics are those of the live items (as on every backend), and an
        expired item can never come back to life (only a new put revives its key).
        """
        if self._keywords is None or now < self._earliest_expiry:
            return
        for namespace in self._namespaces_under(prefix):
            for key, record in self._data[namespace].items():
                if not self._live(record, now):
                    self._keywords.delete(namespace, key)

    def _newest_first(self, prefix: Namespace) -> Iterator[tuple[Namespace, str, Record]]:
        streams = [_reversed_items(ns, self._data[ns]) for ns in self._namespaces_under(prefix)]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=lambda hit: hit[2].seq, reverse=True)

    def _list_namespaces(self, op: ListNamespacesOp, now: float) -> list[Namespace]:
        conditions = op.match_conditions or ()
        found: list[Namespace] = []
        for namespace in self._sorted_namespaces:
            if not all(matches_condition(namespace, c) for c in conditions):
                continue
            if self._expiring and not any(
                self._live(r, now) for r in self._data[namespace].values()
            ):
                continue
            if op.max_depth is not None:
                namespace = namespace[: op.max_depth]
            # Sorted input, so truncated duplicates are adjacent.
            if not found or found[-1] != namespace:
                found.append(namespace)
        return found[op.offset : op.offset + op.limit]

    def _delete_namespace(self, prefix: Namespace, now: float) -> int:
        count = 0
        for namespace in self._namespaces_under(prefix):
            for key, record in self._data[namespace].items():
                count += self._live(record, now)
                if record.expires_at is not None:
                    self._expiring -= 1
                if self._vectors is not None:
                    self._vectors.remove(namespace, key)
            self._drop_namespace(namespace)
        if self._keywords is not None:
            self._keywords.delete_prefix(prefix)
        return count

    # --- whole items (dump and load) ---

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix``, oldest update first (see :class:`BaseStore`)."""
        with self._lock:
            now = self._clock()
            found = [
                (record.seq, namespace, key, record)
                for namespace in self._namespaces_under(tuple(namespace_prefix))
                for key, record in self._data[namespace].items()
                if self._live(record, now)
            ]
            found.sort(key=lambda hit: hit[0])
            return [
                StoredItem(
                    namespace,
                    key,
                    record.value_copy(),
                    record.created_at,
                    record.updated_at,
                    copy_json(record.index),
                    record.ttl,
                    from_epoch(record.expires_at),
                    self._dumped_vectors((namespace, key)) if vectors else None,
                )
                for _, namespace, key, record in found
            ]

    def _dumped_vectors(self, address: tuple[Namespace, str]) -> list[list[float]] | None:
        if self._vectors is None:
            return None
        return as_lists(self._vectors.vectors_of(address)) or []

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items with their times, TTL, expiry and vectors, all or nothing."""
        loaded = prepare_load(items, self._index, now=from_epoch(self._clock()))
        with self._lock:
            now = self._clock()
            for entry in loaded:
                op = entry.op
                self._put(op, None, now, entry.updated_at, None)
                record = self._data[op.namespace][op.key]
                record.created_at = entry.created_at
                if record.expires_at is not None:
                    record.expires_at = epoch_seconds(entry.expires_at)
                    self._earliest_expiry = min(self._earliest_expiry, record.expires_at or 0.0)
                self._last_time = max(self._last_time, entry.updated_at)
            if self._vectors is not None:
                for entry in loaded:
                    address = (entry.op.namespace, entry.op.key)
                    self._vectors.remove(*address)
                    if entry.vectors is not None and len(entry.vectors):
                        self._vectors.set_rows(address, entry.vectors)
        return len(loaded)

    # --- TTL ---

    def sweep_ttl(self) -> int:
        """Delete expired items now; returns how many were deleted."""
        with self._lock:
            if not self._expiring:
                return 0
            now = self._clock()
            expired: list[tuple[Namespace, str]] = []
            earliest = math.inf
            for namespace, items in self._data.items():
                for key, record in items.items():
                    if record.expires_at is None:
                        continue
                    if record.expires_at <= now:
                        expired.append((namespace, key))
                    else:
                        earliest = min(earliest, record.expires_at)
            self._earliest_expiry = earliest
            pending: dict[tuple[Namespace, str], tuple[int, int] | None] = {}
            for namespace, key in expired:
                self._put(PutOp(namespace, key, None), None, now, self._last_time, pending)
            self._flush_vectors(pending)
            return len(expired)

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Start a daemon thread that calls :meth:`sweep_ttl` periodically.

        The interval defaults to ``ttl["sweep_interval_minutes"]``. The thread
        never keeps the process alive and stops when the store is garbage-collected.
        """
        interval = sweep_interval_minutes or (self.ttl_config or {}).get("sweep_interval_minutes")
        if interval is None or isinstance(interval, bool) or not interval > 0:
            raise InvalidStoreInputError(
                f"start_ttl_sweeper needs a positive sweep interval in minutes, got {interval!r}"
            )
        with self._lock:
            if self._sweeper is not None and self._sweeper.is_alive():
                return
            self._sweeper_stop = threading.Event()
            self._sweeper = threading.Thread(
                target=_sweep_loop,
                args=(weakref.ref(self), self._sweeper_stop, float(interval) * 60.0),
                name="threadloom-ttl-sweeper",
                daemon=True,
            )
            self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it has stopped within ``timeout`` seconds."""
        with self._lock:
            sweeper, self._sweeper = self._sweeper, None
            self._sweeper_stop.set()
        if sweeper is None:
            return True
        sweeper.join(timeout)
        return not sweeper.is_alive()

    def __del__(self) -> None:
        stop = getattr(self, "_sweeper_stop", None)
        if stop is not None:
            stop.set()


def _to_embed(ops: list[Op], modes: dict[int, str]) -> list[Op]:
    """``ops`` as the embedder should see them: keyword searches embed no query."""
    if all(mode != "keyword" for mode in modes.values()):
        return ops
    return [
        op._replace(query=None)
        if isinstance(op, SearchOp) and op.query is not None and modes[i] == "keyword"
        else op
        for i, op in enumerate(ops)
    ]


def _indexed_texts(
    value: dict[str, Any] | None,
    index: Literal[False] | list[str] | None,
    fields: tuple[str, ...],
) -> list[str]:
    """The texts a put's vectors are built from (the keyword index holds the same)."""
    if value is None or index is False:
        return []
    paths = fields if index is None else index
    if len(paths) == 1:
        return get_text_at_path(value, paths[0])
    return [text for path in paths for text in get_text_at_path(value, path)]


def _embeds(ops: list[Op]) -> bool:
    """Whether any op may need the embedder (most reads do not)."""
    return any(type(op) is PutOp or (type(op) is SearchOp and op.query is not None) for op in ops)


def _reversed_items(
    namespace: Namespace, items: dict[str, Record]
) -> Iterator[tuple[Namespace, str, Record]]:
    for key, record in reversed(items.items()):
        yield namespace, key, record


def _sweep_loop(
    store_ref: weakref.ref[InMemoryStore], stop: threading.Event, interval: float
) -> None:
    while not stop.wait(interval):
        store = store_ref()
        if store is None:
            return
        store.sweep_ttl()
        del store  # do not hold the store alive while waiting
