"""What the PostgreSQL store sends to the server, written once for sync and async.

Each public operation becomes a *plan* (see :mod:`threadloom._postgres`): a
generator that yields SQL with parameters and reads the results. Every value
that comes from a caller (namespace labels, keys, filter paths and operands,
vectors) travels as a query parameter; the SQL text holds only fixed words,
operators chosen from a table and validated integers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from threadloom._postgres import Plan, Query
from threadloom.errors import (
    IndexNotConfiguredError,
    InvalidValueError,
)
from threadloom.store._filters import AllOf, AnyOf, Clause, Condition, parse_filter
from threadloom.store._fusion import DEFAULT_FUSION, FusionConfig, fuse_hits
from threadloom.store._keyword import KeywordHit, score_matches
from threadloom.store._text import query_terms, tsquery_expression
from threadloom.store.base import (
    DeleteNamespaceOp,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from threadloom.store.postgres._schema import VectorLayout
from threadloom.store.postgres._writes import (
    UPSERT_ITEMS,
    VECTORS_AS_PARAMETERS,
    binary_copy_rows,
    dims_mismatch,
    indexed_bodies,
    insert_vectors,
    one_put,
    texts_insert,
)

__all__ = [
    "Params",
    "StorePlanner",
    "backfill_keyword_plan",
    "compile_filter_sql",
    "indexed_bodies",
    "prefix_sql",
    "sweep_ttl_plan",
    "vector_literal",
]

#: Beyond this many index hits, a search stops widening and answers exactly.
_MAX_FETCH = 20_000
#: A hybrid search whose scope holds at most this many pools of keyword rows searches
#: its vector side exactly at once.
_EXACT_SCOPE_POOLS = 4
#: Index hits a hybrid search asks for per vector candidate (a plain search asks 4 per
#: result); it widens the same way when they come short.
_HYBRID_WIDEN = 2

_LIVE = "(s.expires_at IS NULL OR s.expires_at > now())"


# --- parameters -------------------------------------------------------------------


class Params(dict[str, Any]):
    """Named query parameters: :meth:`add` stores a value and returns its placeholder."""

    def add(self, value: Any) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"


# --- filters -----------------------------------------------------------------------


def compile_filter_sql(clause: Clause, params: Params, column: str = "s.value") -> str:
    """SQL for a parsed filter over the jsonb ``column``; operands become parameters.

    Mirrors :mod:`threadloom.store._filters` exactly: numbers compare as
    numbers, strings as strings (code-point order, hence ``COLLATE "C"``),
    bools are not numbers, and a missing field never matches a range.
    """
    if isinstance(clause, AllOf):
        if not clause.clauses:
            return "TRUE"
        return (
            "(" + " AND ".join(compile_filter_sql(c, params, column) for c in clause.clauses) + ")"
        )
    if isinstance(clause, AnyOf):
        return (
            "(" + " OR ".join(compile_filter_sql(c, params, column) for c in clause.clauses) + ")"
        )
    return _condition(clause, params, column)


def _field(path: tuple[str, ...], params: Params, column: str) -> str:
    """The jsonb at ``path`` (SQL NULL when missing); paths walk dicts only."""
    found = f"({column} #> {params.add(list(path))}::text[])"
    # `#>` would also index a list with a numeric segment; the reference never does.
    guards = [
        f"jsonb_typeof({column} #> {params.add(list(path[:i]))}::text[]) = 'object'"
        for i, part in enumerate(path)
        if part.lstrip("-").isdigit()
    ]
    if guards:
        return f"(CASE WHEN {' AND '.join(guards)} THEN {found} END)"
    return found


def _condition(condition: Condition, params: Params, column: str) -> str:
    op, operand = condition.op, condition.operand
    found = _field(condition.path, params, column)
    if op == "$exists":
        return f"({found} IS NOT NULL)" if operand else f"({found} IS NULL)"
    if op == "$eq":
        return f"coalesce({found} = {params.add(Jsonb(operand))}::jsonb, FALSE)"
    if op == "$ne":
        return f"coalesce({found} <> {params.add(Jsonb(operand))}::jsonb, TRUE)"
    if op in ("$in", "$nin"):
        values = params.add([Jsonb(v) for v in operand])
        if op == "$in":
            return f"coalesce({found} = ANY({values}::jsonb[]), FALSE)"
        return f"coalesce(NOT ({found} = ANY({values}::jsonb[])), TRUE)"
    sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
    if isinstance(operand, str):
        return (
            f"(CASE WHEN jsonb_typeof({found}) = 'string' "
            f"THEN ({found} #>> '{{}}') COLLATE \"C\" {sign} {params.add(operand)} "
            "ELSE FALSE END)"
        )
    number = Decimal(repr(operand)) if isinstance(operand, float) else operand
    return (
        f"(CASE WHEN jsonb_typeof({found}) = 'number' "
        f"THEN ({found})::numeric {sign} {params.add(number)}::numeric ELSE FALSE END)"
    )


# --- helpers -----------------------------------------------------------------------

_SEP = "."


def _ns_text(namespace: tuple[str, ...]) -> str:
    return _SEP.join(namespace)


def _readable(labels: tuple[str, ...]) -> bool:
    """Whether a namespace read could match anything (stored labels never hold '.' or NUL)."""
    return all(isinstance(x, str) and x and _SEP not in x and "\x00" not in x for x in labels)


def prefix_sql(prefix: tuple[str, ...], params: Params, column: str) -> str:
    if not prefix:
        return "TRUE"
    text = _ns_text(prefix)
    exact, low, high = params.add(text), params.add(text + "."), params.add(text + "/")
    return f"({column} = {exact} OR ({column} >= {low} AND {column} < {high}))"


def vector_literal(row: Any) -> str:
    """pgvector's text form of one vector (float32 precision)."""
    return "[" + ",".join([f"{x:.7g}" for x in row.tolist()]) + "]"


def _item(row: tuple[Any, ...]) -> Item:
    namespace, key, value, created_at, updated_at = row[:5]
    return Item(
        value=value,
        key=key,
        namespace=tuple(namespace.split(_SEP)),
        created_at=created_at,
        updated_at=updated_at,
    )


def _search_item(row: tuple[Any, ...], score: float | None = None) -> SearchItem:
    namespace, key, value, created_at, updated_at = row[:5]
    return SearchItem(tuple(namespace.split(_SEP)), key, value, created_at, updated_at, score)


def _matches(ns: tuple[str, ...], kind: str, pattern: tuple[str, ...]) -> bool:
    if len(pattern) > len(ns):
        return False
    part = ns[: len(pattern)] if kind == "prefix" else ns[len(ns) - len(pattern) :]
    return all(p == "*" or p == label for p, label in zip(pattern, part, strict=True))


_REFRESH = (
    "UPDATE threadloom_store s SET expires_at = now() + s.ttl_minutes * interval '1 minute' "
    f"WHERE s.ttl_minutes IS NOT NULL AND {_LIVE} AND "
)
_ITEM_COLUMNS = "s.namespace, s.key, s.value, s.created_at, s.updated_at"


@dataclass(frozen=True)
class StorePlanner:
    """Turns validated operations (and their embeddings) into plans."""

    layout: VectorLayout | None
    ef_search: int = 100
    #: The keyword-indexed paths; ``None``: the store keeps no keyword index.
    text_fields: tuple[str, ...] | None = None
    fusion: FusionConfig = DEFAULT_FUSION

    # --- batch -----------------------------------------------------------------

    @staticmethod
    def read_only(ops: Sequence[Op]) -> bool:
        """Whether ``ops`` is one read: then no transaction is needed around it.

        A read's TTL refresh is one UPDATE that stands alone, and under READ
        COMMITTED each statement reads its own snapshot with or without BEGIN.
        Batches of several reads keep their transaction, so a stricter default
        isolation level still gives them one snapshot.
        """
        return len(ops) == 1 and isinstance(ops[0], GetOp | SearchOp | ListNamespacesOp)

    def _one_put_rows(self, position: int, embedded: Any) -> Any:
        """The vectors of the put at ``position`` (``None``: none), ``False`` if too many."""
        rows = embedded.rows_of(position) if embedded is not None and self.layout else None
        return False if rows is not None and len(rows) > VECTORS_AS_PARAMETERS else rows

    def batch(self, ops: Sequence[Op], embedded: Any) -> Plan[list[Result]]:
        """Run ``ops`` in order, in one transaction; runs of puts are written in bulk."""
        results: list[Result] = [None] * len(ops)
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, PutOp):
                run: list[tuple[int, PutOp]] = []
                while i < len(ops) and isinstance(ops[i], PutOp):
                    run.append((i, ops[i]))  # type: ignore[arg-type]
                    i += 1
                yield from self.puts(run, embedded)
                continue
            if isinstance(op, GetOp):
                results[i] = yield from self._get(op)
            elif isinstance(op, SearchOp):
                results[i] = yield from self._search(op, embedded)
            elif isinstance(op, ListNamespacesOp):
                results[i] = yield from self._list_namespaces(op)
            elif isinstance(op, DeleteNamespaceOp):
                results[i] = yield from self._delete_namespace(op)
            i += 1
        return results

    # --- writes --------------------------------------------------------------------

    def puts(self, puts: list[tuple[int, PutOp]], embedded: Any) -> Plan[None]:
        # The last put of an address wins; earlier ones in the same run are never visible.
        latest: dict[tuple[str, str], tuple[int, PutOp]] = {}
        for position, op in puts:
            latest[(_ns_text(op.namespace), op.key)] = (position, op)
        deletes = [addr for addr, (_, op) in latest.items() if op.value is None]
        writes = [(addr, pos, op) for addr, (pos, op) in latest.items() if op.value is not None]
        if deletes:
            yield Query(
                "DELETE FROM threadloom_store WHERE (namespace, key) IN "
                "(SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([a[0] for a in deletes], [a[1] for a in deletes]),
            )
        if not writes:
            return
        if len(writes) == 1 and not deletes:
            (ns, key), position, op = writes[0]
            rows = self._one_put_rows(position, embedded)
            if rows is not False:
                fields = self.text_fields
                bodies = indexed_bodies(op, fields) if fields is not None else None
                yield from one_put(self.layout, ns, key, op, bodies, rows)
                return
        names, keys = [a[0] for a, _, _ in writes], [a[1] for a, _, _ in writes]
        # Re-putting replaces vectors: the old ones go, whatever the new put indexes.
        old_vectors = (
            """,
                old_vectors AS (
                    DELETE FROM threadloom_store_vectors
                    WHERE (namespace, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
                )"""
            if self.layout is not None
            else ""
        )
        try:
            # Re-putting replaces the keyword rows, whatever this store indexes (a
            # store without an index must not leave another store's stale terms),
            # and the vectors: both folded into the upsert, so they cost no round trip.
            yield Query(
                f"""
                WITH old_texts AS (
                    DELETE FROM threadloom_store_texts
                    WHERE (namespace, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))
                ){old_vectors}
                {UPSERT_ITEMS}
                """,
                (
                    names,
                    keys,
                    *((names, keys) if old_vectors else ()),
                    names,
                    keys,
                    [json.dumps(op.value, allow_nan=False) for _, _, op in writes],
                    [op.ttl for _, _, op in writes],
                ),
            )
        except psycopg.DataError as error:
            # e.g. a NUL character inside a string: jsonb cannot hold it.
            raise InvalidValueError(f"PostgreSQL cannot store this value: {error}") from None
        texts = (
            texts_insert(
                (ns, key, indexed_bodies(op, self.text_fields)) for (ns, key), _, op in writes
            )
            if self.text_fields is not None
            else None
        )
        if self.layout is None:
            if texts is not None:
                yield texts
            return
        vectors = [
            (ns, key, embedded.rows_of(position))
            for (ns, key), position, _ in writes
            if embedded is not None
        ]
        count = sum(len(rows) for _, _, rows in vectors if rows is not None)
        if count <= VECTORS_AS_PARAMETERS:
            # A few vectors (a single put): parameters of one INSERT, which also carries the
            # keyword rows. COPY's own exchange cost more than the whole rest of such a put.
            yield from insert_vectors(self.layout, vectors, texts)
            return
        if texts is not None:
            yield texts
        data = binary_copy_rows(self.layout, vectors)
        if data is None:
            return
        try:
            # Binary COPY: no vector is formatted as text here or parsed on the server,
            # which was most of the client's share of a bulk put.
            yield Query(
                "COPY threadloom_store_vectors (namespace, key, field, seq, embedding) "
                "FROM STDIN (FORMAT BINARY)",
                copy=data,
            )
        except psycopg.DataError as error:
            raise dims_mismatch(self.layout, error) from None

    def _delete_namespace(self, op: DeleteNamespaceOp) -> Plan[int]:
        params = Params()
        where = prefix_sql(op.namespace_prefix, params, "s.namespace")
        done = yield Query(
            f"WITH d AS (DELETE FROM threadloom_store s WHERE {where} RETURNING s.expires_at) "
            "SELECT count(*) FROM d WHERE d.expires_at IS NULL OR d.expires_at > now()",
            params,
        )
        return int(done.rows[0][0])

    # --- reads ----------------------------------------------------------------------

    def _get(self, op: GetOp) -> Plan[Item | None]:
        if not _readable(op.namespace) or "\x00" in op.key:
            return None
        address = (_ns_text(op.namespace), op.key)
        if op.refresh_ttl:
            yield Query(_REFRESH + "s.namespace = %s AND s.key = %s", address)
        found = yield Query(
            f"SELECT {_ITEM_COLUMNS} FROM threadloom_store s "
            f"WHERE s.namespace = %s AND s.key = %s AND {_LIVE}",
            address,
        )
        return _item(found.rows[0]) if found.rows else None

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
        if not _readable(op.namespace_prefix) or op.limit == 0:
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
                _REFRESH + "(s.namespace, s.key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                ([_ns_text(i.namespace) for i in expiring], [i.key for i in expiring]),
            )
        return [item for item, _ in items]

    def _list_items(self, op: SearchOp, tree: AllOf) -> Plan[list[tuple[SearchItem, bool]]]:
        params = Params()
        where = prefix_sql(op.namespace_prefix, params, "s.namespace")
        where += " AND " + compile_filter_sql(tree, params)
        found = yield Query(
            f"SELECT {_ITEM_COLUMNS}, s.ttl_minutes IS NOT NULL "
            f"FROM threadloom_store s WHERE {where} AND {_LIVE} "
            "ORDER BY s.updated_at DESC, s.namespace, s.key "
            f"LIMIT {params.add(op.limit)} OFFSET {params.add(op.offset)}",
            params,
        )
        return [(_search_item(row), bool(row[5])) for row in found.rows]

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
        assert self.layout is not None
        layout = self.layout
        # The driver applies these; on a pooled or autocommit connection only when they change.
        settings = (
            ("hnsw.ef_search", str(min(max(self.ef_search, fetch), 1000))),
            ("hnsw.iterative_scan", "relaxed_order"),
        )
        params = Params()
        distance = f"(v.embedding {layout.operator} {params.add(vector_literal(query))}::{layout.column_type})"
        where = prefix_sql(op.namespace_prefix, params, "v.namespace")
        join = ""
        if tree.clauses:
            join = "JOIN threadloom_store s ON s.namespace = v.namespace AND s.key = v.key"
            where += f" AND {_LIVE} AND " + compile_filter_sql(tree, params)
        # "+ 0" hides the ordering from the index: an exact scan of the candidates.
        order = f"{distance} + 0" if exact else distance
        limit = "" if exact else f"LIMIT {params.add(fetch)}"
        found = yield Query(
            f"""
            WITH hits AS MATERIALIZED (
                SELECT v.namespace, v.key, {distance} AS dist
                FROM threadloom_store_vectors v {join}
                WHERE {where}
                ORDER BY {order}
                {limit}
            ), best AS (
                SELECT namespace, key, min(dist) AS dist FROM hits GROUP BY namespace, key
            )
            SELECT {_ITEM_COLUMNS if items else "s.namespace, s.key, NULL, NULL, NULL"},
                   b.dist, (SELECT count(*) FROM hits), s.ttl_minutes IS NOT NULL
            FROM best b JOIN threadloom_store s ON s.namespace = b.namespace AND s.key = b.key
            WHERE {_LIVE}
            ORDER BY b.dist, s.namespace, s.key
            LIMIT {params.add(need)}
            """,
            params,
            settings=settings,
        )
        # No row back: no candidates, or every hit expired; the exact pass settles it.
        hits = int(found.rows[0][6]) if found.rows else 0
        if not items:
            return hits, [
                (tuple(row[0].split(_SEP)), row[1], self._score(row[5])) for row in found.rows
            ]
        return hits, [(_search_item(row, self._score(row[5])), bool(row[7])) for row in found.rows]

    def _keyword_matches(
        self,
        op: SearchOp,
        tree: AllOf,
        scope_rows: list[int] | None = None,
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] | None = None,
    ) -> Plan[list[KeywordHit]]:
        """Every live item under the prefix that passes the filter and shares a term, best first.

        Scores are :func:`score_matches`' BM25 (never ``ts_rank``), so they equal
        the other backends'. Statistics (row count, total length, document
        frequencies) are those of the live rows under the prefix, whatever the
        filter: a row containing a query term always matches the ``|`` of the
        terms, so counting document frequencies over the matched rows is exact.
        """
        assert op.query is not None
        expression = tsquery_expression(op.query)
        if expression is None:
            return []
        params = Params()
        tsquery = params.add(expression)
        passes = compile_filter_sql(tree, params) if tree.clauses else "TRUE"
        scope = prefix_sql(op.namespace_prefix, params, "t.namespace")
        item_scope = prefix_sql(op.namespace_prefix, params, "s.namespace")
        # The matches and, on each, the live rows' statistics under the prefix (all rows
        # less the expired ones; one-row derived tables, computed once): one round trip.
        found = yield Query(
            f"""
            WITH stats AS MATERIALIZED (
                SELECT a.n - e.n AS n, a.len - e.len AS len FROM
                    (SELECT count(*) AS n, coalesce(sum(t.length), 0) AS len
                     FROM threadloom_store_texts t WHERE {scope}) a,
                    (SELECT count(*) AS n, coalesce(sum(t.length), 0) AS len
                     FROM threadloom_store s JOIN threadloom_store_texts t
                         ON t.namespace = s.namespace AND t.key = s.key
                     WHERE s.expires_at IS NOT NULL AND s.expires_at <= now()
                         AND {item_scope}) e
            )
            SELECT t.namespace, t.key, t.body, coalesce({passes}, FALSE), st.n, st.len,
                   s.value, s.created_at, s.updated_at, s.ttl_minutes IS NOT NULL
            FROM threadloom_store_texts t
            JOIN threadloom_store s ON s.namespace = t.namespace AND s.key = t.key
            CROSS JOIN stats st
            WHERE t.tsv @@ to_tsquery('simple', {tsquery}) AND {scope} AND {_LIVE}
            """,
            params,
        )
        if not found.rows:
            return []
        n_docs, total_len = int(found.rows[0][4]), int(found.rows[0][5])
        if scope_rows is not None:
            scope_rows.append(n_docs)  # the caller's hint of the scope's size
        if n_docs <= 0:
            return []
        wanted = set(query_terms(op.query))
        doc_freq: Counter[str] = Counter()
        matches: list[tuple[tuple[str, ...], str, str]] = []
        namespaces: dict[str, tuple[str, ...]] = {}
        for ns_text, key, body, passed, _, _, *item in found.rows:
            doc_freq.update(wanted.intersection(body.split(" ")))
            if not passed:
                continue
            namespace = namespaces.get(ns_text)
            if namespace is None:
                namespace = namespaces[ns_text] = tuple(ns_text.split(_SEP))
            matches.append((namespace, key, body))
            if items is not None:
                # The item as its page will show it: (value, created, updated, has_ttl).
                items[(namespace, key)] = tuple(item)
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
        scope_rows: list[int] = []
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]] = {}
        keyword = yield from self._keyword_matches(op, tree, scope_rows, items)
        # The vector side: the best `pool` live items passing the filter. A scope of a few
        # times the pool (a user's memories) is searched exactly at once: the index would
        # come up short and the exact pass follow anyway.
        small = bool(scope_rows) and scope_rows[0] <= _EXACT_SCOPE_POOLS * pool
        # A large scope's candidates come back as addresses and scores: most of the pool
        # never reaches the page, whose values are read below (a value costs more than
        # its row). A small scope's come with their values: no round trip for the page.
        found = yield from self._vector_search(
            op._replace(offset=0, limit=pool),
            tree,
            query,
            items=small,
            exact=small,
            widen=_HYBRID_WIDEN,
        )
        if small:
            vector = [(item.namespace, item.key, float(item.score or 0.0)) for item, _ in found]
            for item, has_ttl in found:
                items[(item.namespace, item.key)] = (
                    item.value,
                    item.created_at,
                    item.updated_at,
                    has_ttl,
                )
        else:
            vector = found
        known = {(ns, key) for ns, key, _ in vector}
        # fuse_hits asks for the exact similarity of the best keyword hits the
        # vector side missed: work it out here, in one query, before fusing.
        best_keyword = sorted(keyword, key=lambda hit: -hit.score)[: config.candidates]
        missing = [(h.namespace, h.key) for h in best_keyword if (h.namespace, h.key) not in known]
        similarity: dict[tuple[tuple[str, ...], str], float] = {}
        if missing:
            similarity = yield from self._similarities(query, missing)
        fused = fuse_hits(
            vector,
            [(h.namespace, h.key, h.score) for h in keyword],
            lambda addresses: {a: similarity[a] for a in addresses if a in similarity},
            limit=need,
            config=config,
        )
        page = fused[op.offset :]
        unread = [(ns, key) for ns, key, _ in page if (ns, key) not in items]
        if unread:
            yield from self._read_items(unread, items)
        # An item gone since the vector side saw it drops out of the page.
        return _page_items([hit for hit in page if (hit[0], hit[1]) in items], items)

    def _read_items(
        self,
        addresses: list[tuple[tuple[str, ...], str]],
        items: dict[tuple[tuple[str, ...], str], tuple[Any, ...]],
    ) -> Plan[None]:
        """Add the live items at ``addresses`` to ``items``, as ``_page_items`` reads them."""
        params = Params()
        names = params.add([_ns_text(ns) for ns, _ in addresses])
        keys = params.add([key for _, key in addresses])
        found = yield Query(
            f"SELECT {_ITEM_COLUMNS}, s.ttl_minutes IS NOT NULL FROM threadloom_store s "
            f"WHERE (s.namespace, s.key) IN (SELECT * FROM unnest({names}::text[], {keys}::text[])) "
            f"AND {_LIVE}",
            params,
        )
        for ns_text, key, *item in found.rows:
            items[(tuple(ns_text.split(_SEP)), key)] = tuple(item)

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
        names = params.add([_ns_text(ns) for ns, _ in addresses])
        keys = params.add([key for _, key in addresses])
        found = yield Query(
            f"SELECT v.namespace, v.key, min({distance}) FROM threadloom_store_vectors v "
            f"WHERE (v.namespace, v.key) IN (SELECT * FROM unnest({names}::text[], {keys}::text[])) "
            "GROUP BY v.namespace, v.key",
            params,
        )
        return {(tuple(ns.split(_SEP)), key): self._score(dist) for ns, key, dist in found.rows}

    def _score(self, dist: float) -> float:
        """Cosine similarity from the distance (vectors are stored as unit rows)."""
        assert self.layout is not None
        if self.layout.distance == "cosine":
            return 1.0 - float(dist)
        if self.layout.distance == "l2":
            return 1.0 - float(dist) ** 2 / 2.0
        return -float(dist)

    def _list_namespaces(self, op: ListNamespacesOp) -> Plan[list[tuple[str, ...]]]:
        params = Params()
        conditions = op.match_conditions or ()
        literal: list[str] = []
        for condition in conditions:
            if condition.match_type == "prefix":
                for label in condition.path:
                    if label == "*":
                        break
                    literal.append(label)
                break
        if not _readable(tuple(literal)):
            return []
        where = prefix_sql(tuple(literal), params, "s.namespace")
        found = yield Query(
            f"SELECT DISTINCT s.namespace FROM threadloom_store s WHERE {where} AND {_LIVE}",
            params,
        )
        names: set[tuple[str, ...]] = set()
        for (text,) in found.rows:
            ns = tuple(text.split(_SEP))
            if all(_matches(ns, c.match_type, tuple(c.path)) for c in conditions):
                names.add(ns[: op.max_depth] if op.max_depth else ns)
        return sorted(names)[op.offset : op.offset + op.limit]


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


def backfill_keyword_plan(fields: Sequence[str], *, vectors_only: bool) -> Plan[int]:
    """Index the items stored before the keyword index existed; returns how many.

    The per-put ``index`` paths of old items are not recorded, so the store's
    configured ``fields`` are used; with ``vectors_only`` only items that have
    vectors (not put with ``index=False``) are indexed. Runs once per database:
    the first caller claims the task (setup holds the migration lock).
    """
    claimed = yield Query(
        "DELETE FROM threadloom_store_pending WHERE task = 'keyword_backfill' RETURNING task"
    )
    if not claimed.rows:
        return 0
    has_vectors = (
        "AND EXISTS (SELECT 1 FROM threadloom_store_vectors v "
        "WHERE v.namespace = s.namespace AND v.key = s.key)"
        if vectors_only
        else ""
    )
    found = yield Query(
        "SELECT s.namespace, s.key, s.value FROM threadloom_store s WHERE NOT EXISTS "
        "(SELECT 1 FROM threadloom_store_texts t WHERE t.namespace = s.namespace "
        f"AND t.key = s.key) {has_vectors}"
    )
    insert = texts_insert(
        (ns, key, indexed_bodies(PutOp((ns,), key, value), fields)) for ns, key, value in found.rows
    )
    if insert is not None:
        yield insert
    return len(found.rows)


def sweep_ttl_plan() -> Plan[int]:
    """Delete expired items (their vectors go with them); returns how many."""
    done = yield Query(
        "DELETE FROM threadloom_store WHERE expires_at IS NOT NULL AND expires_at <= now()"
    )
    return done.rowcount
