"""How a PostgreSQL store searches: listing, vector, keyword and hybrid, written once
for sync and async (see :mod:`threadloom._postgres`).

:class:`SearchPlans` is the search half of
:class:`~threadloom.store.postgres._plans.StorePlanner`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadloom._postgres import Plan, Query
from threadloom.errors import IndexNotConfiguredError
from threadloom.store._filters import AllOf, parse_filter
from threadloom.store._fusion import FusionConfig, fuse_hits
from threadloom.store._keyword import KeywordHit, score_matches
from threadloom.store._text import query_terms, tsquery_expression
from threadloom.store.base import SearchItem, SearchOp
from threadloom.store.postgres._schema import VectorLayout
from threadloom.store.postgres._sql import (
    ITEM_COLUMNS,
    LIVE,
    SEP,
    Params,
    compile_filter_sql,
    ns_text,
    prefix_sql,
    readable,
    search_item_from_row,
    vector_literal,
)

if TYPE_CHECKING:
    from threadloom.store.postgres._wide import WideHybrid

__all__ = ["REFRESH", "SearchPlans"]

#: Beyond this many index hits, a search stops widening and answers exactly.
_MAX_FETCH = 20_000
#: A hybrid search whose scope holds at most this many pools of live items reads it
#: whole and ranks it exactly; a larger scope is searched through the index.
_EXACT_SCOPE_POOLS = 4
#: Index hits a hybrid search asks for per vector candidate (a plain search asks 4 per
#: result); it widens the same way when they come short.
_HYBRID_WIDEN = 1
# How many namespace prefixes a store remembers as too large to read whole.
_LARGE_SCOPES_KEPT = 4096


_Address = tuple[tuple[str, ...], str]


@dataclass
class Gathered:
    """What a hybrid search's first statement brings besides both sides: items as
    ``(value, created_at, updated_at, has_ttl)``, items with their value still JSON text
    (``unread``, parsed only for the page), and similarities worked out in SQL."""

    items: dict[_Address, tuple[Any, ...]] = field(default_factory=dict)
    unread: dict[_Address, tuple[Any, ...]] = field(default_factory=dict)
    similarity: dict[_Address, float] = field(default_factory=dict)


#: Both sides of a hybrid search: keyword hits, vector candidates ``(namespace, key,
#: similarity)`` and whether the vector side holds the whole pool.
Sides = tuple[list[KeywordHit], list[tuple[tuple[str, ...], str, float]], bool]

REFRESH = (
    "UPDATE threadloom_store s SET expires_at = now() + s.ttl_minutes * interval '1 minute' "
    f"WHERE s.ttl_minutes IS NOT NULL AND {LIVE} AND "
)


class SearchPlans:
    """The search plans of a store planner (its fields are declared here for them)."""

    layout: VectorLayout | None
    ef_search: int
    text_fields: tuple[str, ...] | None
    fusion: FusionConfig
    # Namespace prefixes found holding more items than a hybrid search reads whole (a hint:
    # a stale entry only costs speed; see _hybrid_search).
    large_scopes: dict[tuple[str, ...], None]
    # The server-side function for unfiltered hybrid searches of wide scopes (None: the
    # store has no keyword or no vector index).
    wide: WideHybrid | None

    def _search(self, op: SearchOp, embedded: Any) -> Plan[list[SearchItem]]:
        tree = parse_filter(op.filter)  # raises InvalidFilterError naming the problem
        mode = op.mode or "vector"
        if (
            op.query is not None
            and (self.text_fields is None or mode != "keyword")
            and (self.layout is None)
        ):
            raise IndexNotConfiguredError(
                "search(query=...) needs a store created with index={'dims': ..., 'embed': ...}"
                " (or, for keyword search only, index={'fields': ['text']})"
            )
        if not readable(op.namespace_prefix) or op.limit == 0:
            return []
        if op.query is None:
            items = yield from self._list_items(op, tree)
        elif mode == "keyword":
            items = yield from self._keyword_search(op, tree)
        elif mode == "hybrid":
            items = yield from self._hybrid_search(op, tree, embedded.queries[op.query])
        else:
            items = yield from self._vector_search(op, tree, embedded.queries[op.query])
        expiring = [item for item, has_ttl in items if has_ttl]
        if op.refresh_ttl and expiring:
            yield Query(
                REFRESH + "(s.namespace, s.key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([ns_text(i.namespace) for i in expiring], [i.key for i in expiring]),
            )
        return [item for item, _ in items]

    def _list_items(self, op: SearchOp, tree: AllOf) -> Plan[list[tuple[SearchItem, bool]]]:
        params = Params()
        where = prefix_sql(op.namespace_prefix, params, "s.namespace")
        where += " AND " + compile_filter_sql(tree, params)
        found = yield Query(
            f"SELECT {ITEM_COLUMNS}, s.ttl_minutes IS NOT NULL "
            f"FROM threadloom_store s WHERE {where} AND {LIVE} "
            "ORDER BY s.updated_at DESC, s.namespace, s.key "
            f"LIMIT {params.add(op.limit)} OFFSET {params.add(op.offset)}",
            params,
        )
        return [(search_item_from_row(row), bool(row[5])) for row in found.rows]

    def _vector_search(
        self,
        op: SearchOp,
        tree: AllOf,
        query: Any,
        *,
        items: bool = True,
        exact: bool = False,
        widen: int = 4,
    ) -> Plan[list[Any]]:
        """The page's live items passing the filter, nearest first, as ``(SearchItem, has_ttl)``
        (``items=False``: as ``(namespace, key, score)``, no value read)."""
        need = op.offset + op.limit
        # Capped: 4 * a huge page would not fit a bigint (the exact pass serves it).
        fetch = min(max(40, widen * need), _MAX_FETCH)
        while True:
            hits, found = yield from self._vector_query(
                op, tree, query, fetch, need, exact, items=items
            )
            if len(found) >= need or exact:
                break
            if hits < fetch or fetch >= _MAX_FETCH:
                # The index ran dry (or spent its scan budget) before `need` items
                # passed the prefix and filter: answer exactly over those candidates.
                exact = True
            else:
                fetch *= 4  # several vectors per item, or expired items: fetch more
        return found[op.offset : need]

    def _vector_query(
        self,
        op: SearchOp,
        tree: AllOf,
        query: Any,
        fetch: int,
        need: int,
        exact: bool,
        *,
        items: bool = True,
    ) -> Plan[tuple[int, list[Any]]]:
        params = Params()
        vector = params.add(vector_literal(query))
        found = yield Query(
            self._vector_sql(op, tree, vector, fetch, need, exact, params, items=items),
            params,
            settings=self._vector_settings(fetch),
        )
        # No row back: no candidates, or every hit expired; the exact pass settles it.
        hits = int(found.rows[0][6]) if found.rows else 0
        return hits, self._vector_rows(found.rows, items)

    def _vector_settings(self, fetch: int) -> tuple[tuple[str, str], ...]:
        # The driver applies these; on a pooled or autocommit connection only when they change.
        return (
            ("hnsw.ef_search", str(min(max(self.ef_search, fetch), 1000))),
            ("hnsw.iterative_scan", "relaxed_order"),
        )

    def _distance(self, vector: str) -> str:
        """SQL for the distance of ``v.embedding`` to the query at placeholder ``vector``."""
        assert self.layout is not None
        return f"(v.embedding {self.layout.operator} {vector}::{self.layout.column_type})"

    def _vector_sql(
        self,
        op: SearchOp,
        tree: AllOf,
        vector: str,
        fetch: int,
        need: int,
        exact: bool,
        params: Params,
        *,
        items: bool = True,
    ) -> str:
        """The best ``need`` live items near the query as rows ``(namespace, key, value,
        created_at, updated_at, dist, hits, has_ttl)`` (no values unless ``items``)."""
        distance = self._distance(vector)
        where = prefix_sql(op.namespace_prefix, params, "v.namespace")
        join = ""
        if tree.clauses:
            join = "JOIN threadloom_store s ON s.namespace = v.namespace AND s.key = v.key"
            where += f" AND {LIVE} AND " + compile_filter_sql(tree, params)
        limit = None if exact else params.add(fetch)
        return nearest_sql(distance, where, join, limit, params.add(need), items=items)

    def _vector_rows(self, rows: Sequence[tuple[Any, ...]], items: bool) -> list[Any]:
        """``_vector_sql``'s rows as ``(SearchItem, has_ttl)``, or ``(namespace, key, score)``."""
        if not items:
            return [(tuple(row[0].split(SEP)), row[1], self._score(row[5])) for row in rows]
        return [(search_item_from_row(row, self._score(row[5])), bool(row[7])) for row in rows]

    def _keyword_sql(self, op: SearchOp, tree: AllOf, params: Params) -> tuple[str, str] | None:
        """``(stats, matches)``: SQL for the scope's BM25 statistics (one row ``n, len``) and
        for its live items sharing a term with the query, as rows ``(namespace, key, body,
        passes the filter, value, created_at, updated_at, has_ttl)``; ``None``: no term.

        Statistics are those of the live rows under the prefix, whatever the filter: a
        row containing a query term always matches the ``|`` of the terms, so counting
        document frequencies over the matched rows is exact.
        """
        assert op.query is not None
        expression = tsquery_expression(op.query)
        if expression is None:
            return None
        tsquery = params.add(expression)
        passes = compile_filter_sql(tree, params) if tree.clauses else "TRUE"
        return keyword_sql(
            tsquery,
            passes,
            prefix_sql(op.namespace_prefix, params, "t.namespace"),
            prefix_sql(op.namespace_prefix, params, "s.namespace"),
        )

    def _keyword_matches(
        self,
        op: SearchOp,
        tree: AllOf,
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] | None = None,
    ) -> Plan[list[KeywordHit]]:
        """Every live item under the prefix that passes the filter and shares a term, best first.

        Scores are :func:`score_matches`' BM25 (never ``ts_rank``), so they equal
        the other backends'.
        """
        params = Params()
        parts = self._keyword_sql(op, tree, params)
        if parts is None:
            return []
        stats, matches = parts
        # The matches and, on each, the statistics (computed once): one round trip.
        found = yield Query(
            f"WITH stats AS MATERIALIZED ({stats}), m AS ({matches}) "
            "SELECT m.*, st.n, st.len FROM m CROSS JOIN stats st",
            params,
        )
        if not found.rows:
            return []
        n_docs, total_len = int(found.rows[0][8]), int(found.rows[0][9])
        return self._keyword_hits(op, found.rows, n_docs, total_len, items)

    def _keyword_hits(
        self,
        op: SearchOp,
        rows: Sequence[tuple[Any, ...]],
        n_docs: int,
        total_len: int,
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] | None,
    ) -> list[KeywordHit]:
        """BM25 hits of ``_keyword_sql``'s match rows (their first 8 columns), best first."""
        assert op.query is not None
        if n_docs <= 0 or not rows:
            return []
        wanted = set(query_terms(op.query))
        doc_freq: Counter[str] = Counter()
        matches: list[tuple[tuple[str, ...], str, str]] = []
        namespaces: dict[str, tuple[str, ...]] = {}
        for row in rows:
            ns_name, key, body, passed = row[:4]
            doc_freq.update(wanted.intersection(body.split(" ")))
            if not passed:
                continue
            namespace = namespaces.get(ns_name)
            if namespace is None:
                namespace = namespaces[ns_name] = tuple(ns_name.split(SEP))
            matches.append((namespace, key, body))
            if items is not None:
                # The item as its page will show it: (value, created, updated, has_ttl).
                items[(namespace, key)] = tuple(row[4:8])
        return score_matches(
            op.query, matches, n_docs=n_docs, total_len=total_len, doc_freq=doc_freq
        )

    def _keyword_search(self, op: SearchOp, tree: AllOf) -> Plan[list[tuple[SearchItem, bool]]]:
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] = {}
        hits = yield from self._keyword_matches(op, tree, items=items)
        page = [(h.namespace, h.key, h.score) for h in hits[op.offset : op.offset + op.limit]]
        return _page_items(page, items)

    def _hybrid_search(
        self, op: SearchOp, tree: AllOf, query: Any
    ) -> Plan[list[tuple[SearchItem, bool]]]:
        need = op.offset + op.limit
        config = self.fusion
        # Pages past the pool would come out short: widen it (fuse_hits' contract).
        pool = max(config.candidates, need)
        if pool != config.candidates:
            config = FusionConfig(**{**config.__dict__, "candidates": pool})
        if op.namespace_prefix not in self.large_scopes:
            whole = yield from self._hybrid_whole_scope(op, tree, query, config, need)
            if whole is not None:
                return whole
            if len(self.large_scopes) >= _LARGE_SCOPES_KEPT:
                self.large_scopes.clear()
            self.large_scopes[op.namespace_prefix] = None
        pool_op = op._replace(offset=0, limit=pool)
        gathered = Gathered()
        items, unread, similarity = gathered.items, gathered.unread, gathered.similarity
        sides = None
        if self.wide is not None and not tree.clauses:
            sides = yield from self._wide_sides(op, query, pool, gathered)
        if sides is None:
            sides = yield from self._hybrid_sides(op, tree, query, pool, gathered)
        # No query term (None): no keyword side, and the vector side is searched alone.
        keyword, vector, complete = sides if sides is not None else ([], [], False)
        if not complete:
            vector = yield from self._vector_search(
                pool_op, tree, query, items=False, widen=_HYBRID_WIDEN
            )
        known = {(ns, key) for ns, key, _ in vector}
        # fuse_hits asks for the exact similarity of the best keyword hits the
        # vector side missed: those the first statement did not work out, here.
        best_keyword = sorted(keyword, key=lambda hit: -hit.score)[: config.candidates]
        missing = [
            (h.namespace, h.key)
            for h in best_keyword
            if (h.namespace, h.key) not in known and (h.namespace, h.key) not in similarity
        ]
        if missing:
            similarity.update((yield from self._similarities(query, missing)))
        fused = _fuse(vector, keyword, similarity, limit=need, config=config)
        page = fused[op.offset :]
        for address in [(ns, key) for ns, key, _ in page if (ns, key) not in items]:
            if address in unread:
                text, *rest = unread[address]
                items[address] = (json.loads(text), *rest)
        missing_items = [(ns, key) for ns, key, _ in page if (ns, key) not in items]
        if missing_items:
            yield from self._read_items(missing_items, items)
        # An item gone since the vector side saw it drops out of the page.
        return _page_items([hit for hit in page if (hit[0], hit[1]) in items], items)

    def _hybrid_whole_scope(
        self, op: SearchOp, tree: AllOf, query: Any, config: FusionConfig, need: int
    ) -> Plan[list[tuple[SearchItem, bool]] | None]:
        """A hybrid search that reads every live item under the prefix (one user's
        memories) in one plain statement, and ranks them here; ``None`` when the prefix
        holds more than a few pools of items (then the caller searches in SQL).

        Each item comes with its best distance to the query, whether it passes the
        filter, its keyword rows and its place in the vector order (distance, then
        address, as ``_vector_sql`` orders): the keyword statistics of the scope, both
        sides and every candidate's exact scores follow, as ``fuse_hits`` wants them.
        """
        assert op.query is not None
        params = Params()
        distance = self._distance(params.add(vector_literal(query)))
        passes = compile_filter_sql(tree, params) if tree.clauses else "TRUE"
        scope = prefix_sql(op.namespace_prefix, params, "s.namespace")
        cap = min(_EXACT_SCOPE_POOLS * config.candidates, 2**62)
        found = yield Query(
            f"""
            SELECT *, CASE WHEN dist IS NOT NULL AND passed THEN
                       row_number() OVER (ORDER BY dist IS NULL OR NOT passed, dist,
                                          namespace, key) END
            FROM (
                SELECT s.namespace, s.key, s.value::text, s.created_at, s.updated_at,
                       s.ttl_minutes IS NOT NULL, coalesce({passes}, FALSE) AS passed,
                       (SELECT min({distance}) FROM threadloom_store_vectors v
                        WHERE v.namespace = s.namespace AND v.key = s.key) AS dist,
                       ARRAY(SELECT t.body FROM threadloom_store_texts t
                             WHERE t.namespace = s.namespace AND t.key = s.key ORDER BY t.seq),
                       ARRAY(SELECT t.length FROM threadloom_store_texts t
                             WHERE t.namespace = s.namespace AND t.key = s.key ORDER BY t.seq)
                FROM threadloom_store s WHERE {scope} AND {LIVE}
                LIMIT {params.add(cap + 1)}
            ) whole
            """,
            params,
        )
        if len(found.rows) > cap:
            return None
        wanted = set(query_terms(op.query))
        n_docs = total_len = 0
        doc_freq: Counter[str] = Counter()
        matches: list[tuple[tuple[str, ...], str, str]] = []
        ranked: list[tuple[int, tuple[str, ...], str, float]] = []
        similarity: dict[tuple[tuple[str, ...], str], float] = {}
        rows: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] = {}
        for name, key, value, created, updated, has_ttl, passed, dist, bodies, lengths, rank in (
            found.rows
        ):
            address = (tuple(name.split(SEP)), key)
            rows[address] = (value, created, updated, has_ttl)
            n_docs += len(bodies)
            total_len += sum(lengths)
            for body in bodies:
                shared = wanted.intersection(body.split(" "))
                if shared:
                    # Rows that share a term: what the keyword side's SQL matches.
                    doc_freq.update(shared)
                    if passed:
                        matches.append((*address, body))
            if dist is not None:
                similarity[address] = self._score(dist)
                if rank is not None:
                    ranked.append((rank, *address, similarity[address]))
        keyword = score_matches(
            op.query, matches, n_docs=n_docs, total_len=total_len, doc_freq=doc_freq
        )
        ranked.sort()
        vector = [(ns, key, score) for _, ns, key, score in ranked[: config.candidates]]
        fused = _fuse(vector, keyword, similarity, limit=need, config=config)
        page = []
        for ns, key, score in fused[op.offset :]:
            value, created, updated, has_ttl = rows[(ns, key)]
            item = SearchItem(ns, key, json.loads(value), created, updated, score)
            page.append((item, bool(has_ttl)))
        return page

    def _hybrid_sides(
        self,
        op: SearchOp,
        tree: AllOf,
        query: Any,
        pool: int,
        gathered: Gathered,
    ) -> Plan[Sides | None]:
        """Both sides of a hybrid search in a large scope, in one statement (see
        :func:`sides_sql`); ``None``: the query has no term."""
        params = Params()
        parts = self._keyword_sql(op, tree, params)
        if parts is None:
            return None
        stats, matches = parts
        vector = params.add(vector_literal(query))
        fetch = hybrid_fetch(pool)
        pool_op = op._replace(offset=0, limit=pool)
        near = self._vector_sql(pool_op, tree, vector, fetch, pool, False, params, items=False)
        statement = sides_sql(
            stats,
            matches,
            near,
            self._distance(vector),
            params.add(min(pool, 2**62)),
            params.add(min(op.offset + op.limit, 2**62)),
        )
        found = yield Query(statement, params, settings=self._vector_settings(fetch))
        return self._read_sides(op, found.rows, pool, gathered)

    def _wide_sides(
        self,
        op: SearchOp,
        query: Any,
        pool: int,
        gathered: Gathered,
    ) -> Plan[Sides | None]:
        """:meth:`_hybrid_sides` through the store's function (see
        :mod:`~threadloom.store.postgres._wide`); ``None``: the query has no term, the
        function is missing, or the scope is too narrow for it."""
        wide = self.wide
        assert wide is not None and op.query is not None
        terms = tsquery_expression(op.query)
        if terms is None or wide.is_narrow(op.namespace_prefix):
            return None
        if not (yield from wide.check()):
            return None
        params = Params()
        fetch = hybrid_fetch(pool)
        page = min(op.offset + op.limit, 2**62)
        statement = wide.call(
            params, terms, vector_literal(query), op.namespace_prefix, fetch, min(pool, 2**62), page
        )
        found = yield Query(statement, params, settings=self._vector_settings(fetch))
        if found.rows and found.rows[0][0] == "x":
            wide.remember_narrow(op.namespace_prefix)
            return None
        return self._read_sides(op, found.rows, pool, gathered)

    def _read_sides(
        self,
        op: SearchOp,
        rows: Sequence[tuple[Any, ...]],
        pool: int,
        gathered: Gathered,
    ) -> Sides:
        """:func:`sides_sql`'s rows as ``(keyword hits, vector candidates, whether the
        vector side is complete)``; what else they bring goes to ``gathered``."""
        by_kind: dict[str, list[tuple[Any, ...]]] = {"s": [], "k": [], "n": []}
        for row in rows:
            by_kind[row[0]].append(row[1:])
        keyword: list[KeywordHit] = []
        for stats_row in by_kind["s"]:  # none without matches
            n_docs, total_len = int(stats_row[9]), int(stats_row[10])
            keyword = self._keyword_hits(op, by_kind["k"], n_docs, total_len, gathered.items)
        # Rows from here on: namespace, key, body (keyword rows) or value as JSON text
        # (vector rows), passed, value, created_at, updated_at, has_ttl, dist, n or hits, len.
        for row in by_kind["k"]:
            if row[8] is not None:
                gathered.similarity[(tuple(row[0].split(SEP)), row[1])] = self._score(row[8])
        candidates = by_kind["n"]
        for row in candidates:
            if row[2] is not None:
                gathered.unread[(tuple(row[0].split(SEP)), row[1])] = (row[2], *row[5:8])
        near = [(row[0], row[1], None, None, None, row[8]) for row in candidates]
        # The index may come short of the pool (it ran dry, or the filter passed too
        # few): then the plain vector search widens.
        return keyword, self._vector_rows(near, items=False), len(near) >= pool

    def _read_items(
        self,
        addresses: list[tuple[tuple[str, ...], str]],
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]],
    ) -> Plan[None]:
        """Add the live items at ``addresses`` to ``items``, as ``_page_items`` reads them."""
        params = Params()
        names = params.add([ns_text(ns) for ns, _ in addresses])
        keys = params.add([key for _, key in addresses])
        found = yield Query(
            f"SELECT {ITEM_COLUMNS}, s.ttl_minutes IS NOT NULL FROM threadloom_store s "
            f"WHERE (s.namespace, s.key) IN (SELECT * FROM unnest({names}::text[], {keys}::text[])) "
            f"AND {LIVE}",
            params,
        )
        for ns_name, key, *item in found.rows:
            items[(tuple(ns_name.split(SEP)), key)] = tuple(item)

    def _similarities(
        self, query: Any, addresses: list[tuple[tuple[str, ...], str]]
    ) -> Plan[dict[tuple[tuple[str, ...], str], float]]:
        """Exact similarity of each address to the query (its best vector); none if it has none."""
        assert self.layout is not None
        layout = self.layout
        params = Params()
        distance = (
            f"(v.embedding {layout.operator} {params.add(vector_literal(query))}"
            f"::{layout.column_type})"
        )
        names = params.add([ns_text(ns) for ns, _ in addresses])
        keys = params.add([key for _, key in addresses])
        found = yield Query(
            f"SELECT v.namespace, v.key, min({distance}) FROM threadloom_store_vectors v "
            f"WHERE (v.namespace, v.key) IN (SELECT * FROM unnest({names}::text[], {keys}::text[])) "
            "GROUP BY v.namespace, v.key",
            params,
        )
        return {(tuple(ns.split(SEP)), key): self._score(dist) for ns, key, dist in found.rows}

    def _score(self, dist: float) -> float:
        """Cosine similarity from the distance (vectors are stored as unit rows)."""
        assert self.layout is not None
        if self.layout.distance == "cosine":
            return 1.0 - float(dist)
        if self.layout.distance == "l2":
            return 1.0 - float(dist) ** 2 / 2.0
        return -float(dist)





def hybrid_fetch(pool: int) -> int:
    """Index hits the vector side of a hybrid search asks for, for a pool of ``pool``."""
    return min(max(40, _HYBRID_WIDEN * pool), _MAX_FETCH)


def sides_sql(stats: str, matches: str, near: str, distance: str, pool: str, page: str) -> str:
    """One statement for both sides of a hybrid search in a large scope.

    From :func:`keyword_sql`'s ``stats`` and ``matches``, :func:`nearest_sql`'s ``near``
    (``items=False``), the query's ``distance`` to ``v.embedding``, the ``pool`` size and
    the ``page``'s end. Its rows, by their first column: ``'s'`` the keyword statistics
    (none without matches), ``'k'`` each keyword match with its similarity when there
    are at most ``pool`` matches (``fuse_hits`` may ask for those the vector side
    missed), ``'n'`` the vector candidates, nearest first, the first ``page`` of them
    with their items (value as JSON text): the page's vector-only items are among
    those, since fusion keeps the vector order among items no keyword matched.
    """
    similar = (
        f"CASE WHEN k.matches <= {pool} THEN (SELECT min({distance}) "
        "FROM threadloom_store_vectors v WHERE v.namespace = k.namespace AND v.key = k.key) END"
    )
    # Planning is a good part of this statement's time: it stays as small as it can.
    return f"""
        WITH k AS MATERIALIZED (SELECT m.*, count(*) OVER () AS matches FROM ({matches}) m),
        near AS MATERIALIZED ({near})
        SELECT 's', NULL, NULL, NULL, NULL::boolean, NULL::jsonb, NULL::timestamptz,
               NULL::timestamptz, NULL::boolean, NULL::float8, n, len
        FROM ({stats}) st WHERE EXISTS (SELECT 1 FROM k)
        UNION ALL
        SELECT 'k', k.namespace, k.key, k.body, k.passed, k.value, k.created_at,
               k.updated_at, k.has_ttl, {similar}, NULL, NULL FROM k
        UNION ALL
        SELECT 'n', n.namespace, n.key, s.value::text, NULL, NULL, s.created_at,
               s.updated_at, s.ttl_minutes IS NOT NULL, n.dist, n.hits, NULL
        FROM (SELECT *, row_number() OVER (ORDER BY dist, namespace, key) AS place FROM near) n
        LEFT JOIN LATERAL (
            SELECT s.value, s.created_at, s.updated_at, s.ttl_minutes FROM threadloom_store s
            WHERE s.namespace = n.namespace AND s.key = n.key AND n.place <= {page} LIMIT 1
        ) s ON TRUE
        """

def keyword_sql(tsquery: str, passes: str, scope: str, item_scope: str) -> tuple[str, str]:
    """``(stats, matches)`` of :meth:`SearchPlans._keyword_sql`, from SQL for the query's
    ``tsquery`` text, the filter (``passes``, on ``s.value``) and the prefix, on
    ``t.namespace`` (``scope``) and on ``s.namespace`` (``item_scope``)."""
    # All rows (kept per namespace by triggers) less the expired ones not yet swept.
    stats = f"""
        SELECT a.n - e.n AS n, a.len - e.len AS len FROM
            (SELECT coalesce(sum(t.rows), 0) AS n, coalesce(sum(t.length), 0) AS len
             FROM threadloom_store_text_stats t WHERE {scope}) a,
            -- Per expired item, not a join: a join costs more to plan than to run.
            (SELECT coalesce(sum(t.n), 0) AS n, coalesce(sum(t.len), 0) AS len
             FROM threadloom_store s CROSS JOIN LATERAL (
                 SELECT count(*) AS n, sum(t.length) AS len FROM threadloom_store_texts t
                 WHERE t.namespace = s.namespace AND t.key = s.key
             ) t
             WHERE s.expires_at <= now() AND {item_scope}) e"""
    matches = f"""
        SELECT t.namespace, t.key, t.body, coalesce({passes}, FALSE) AS passed,
               s.value, s.created_at, s.updated_at, s.ttl_minutes IS NOT NULL AS has_ttl
        FROM threadloom_store_texts t
        -- A lookup per match, by key: with a join the planner, guessing at how many
        -- rows match, scanned the whole items table for a handful of matches.
        CROSS JOIN LATERAL (
            SELECT s.value, s.created_at, s.updated_at, s.ttl_minutes FROM threadloom_store s
            WHERE s.namespace = t.namespace AND s.key = t.key AND {LIVE} LIMIT 1
        ) s
        WHERE t.tsv @@ to_tsquery('simple', {tsquery}) AND {scope}"""
    return stats, matches

def nearest_sql(
    distance: str, where: str, join: str, fetch: str | None, need: str, *, items: bool
) -> str:
    """SQL for the best ``need`` live items near the query, as rows ``(namespace, key,
    value, created_at, updated_at, dist, hits, has_ttl)`` (no values unless ``items``).

    ``distance``, ``where`` (on ``v``, and ``s`` when ``join`` joins the items),
    ``fetch`` (index hits to ask for; ``None``: an exact scan) and ``need`` are SQL.
    """
    select = (
        f"SELECT v.namespace, v.key, {distance} AS dist, v.indexed "
        f"FROM threadloom_store_vectors v {join} WHERE {where}"
    )
    if fetch is None:
        # "+ 0" hides the ordering from the index: an exact scan of the candidates.
        hits = f"{select} ORDER BY {distance} + 0"
    else:
        # The index holds the indexed rows; those a single put left for the indexer
        # are few (it catches up when puts pause) and are read exactly.
        hits = (
            f"({select} AND v.indexed ORDER BY {distance} LIMIT {fetch}) UNION ALL "
            f"({select} AND NOT v.indexed ORDER BY {distance} + 0 LIMIT {fetch})"
        )
    common = f"""
        WITH hits AS MATERIALIZED ({hits}), best AS (
            SELECT namespace, key, min(dist) AS dist FROM hits GROUP BY namespace, key
        )"""
    if not items:
        # No item read: a hit's item exists (a foreign key keeps it); with a filter
        # the hits' join checked it is live, without one only expired items are
        # looked up (few, as the sweeper deletes them), not every hit's row.
        live = "TRUE" if join else (
            "NOT EXISTS (SELECT 1 FROM threadloom_store s WHERE s.namespace = b.namespace "
            "AND s.key = b.key AND s.expires_at <= now())"
        )
        return f"""{common}
        SELECT b.namespace, b.key, NULL AS value, NULL AS created_at, NULL AS updated_at,
               b.dist AS dist, (SELECT count(*) FROM hits WHERE indexed) AS hits,
               NULL AS has_ttl
        FROM best b WHERE {live}
        ORDER BY b.dist, b.namespace, b.key
        LIMIT {need}
        """
    return f"""{common}
        SELECT {ITEM_COLUMNS}, b.dist AS dist, (SELECT count(*) FROM hits WHERE indexed) AS hits,
               s.ttl_minutes IS NOT NULL AS has_ttl
        FROM best b
        -- By key: a join let the planner scan every item for a few hundred hits.
        CROSS JOIN LATERAL (
            SELECT * FROM threadloom_store s
            WHERE s.namespace = b.namespace AND s.key = b.key AND {LIVE} LIMIT 1
        ) s
        ORDER BY b.dist, s.namespace, s.key
        LIMIT {need}
        """

def _fuse(
    vector: list[tuple[tuple[str, ...], str, float]],
    keyword: list[KeywordHit],
    similarity: Mapping[tuple[tuple[str, ...], str], float],
    *,
    limit: int,
    config: FusionConfig,
) -> list[tuple[tuple[str, ...], str, float]]:
    """``fuse_hits`` over both sides, the keyword candidates' similarities already known
    (an address missing from ``similarity`` has no vectors)."""
    return fuse_hits(
        vector,
        [(h.namespace, h.key, h.score) for h in keyword],
        lambda addresses: {a: similarity[a] for a in addresses if a in similarity},
        limit=limit,
        config=config,
    )


def _page_items(
    page: Sequence[tuple[tuple[str, ...], str, float]],
    items: Mapping[tuple[tuple[str, ...], str], tuple[Any, ...]],
) -> list[tuple[SearchItem, bool]]:
    """``page``'s items from ``(value, created_at, updated_at, has_ttl)`` rows read with it."""
    found = []
    for ns, key, score in page:
        value, created_at, updated_at, has_ttl = items[(ns, key)]
        found.append((SearchItem(ns, key, value, created_at, updated_at, score), bool(has_ttl)))
    return found
