"""What the PostgreSQL store sends to the server, written once for sync and async.

Each public operation becomes a *plan* (see :mod:`threadloom._postgres`): a
generator that yields SQL with parameters and reads the results. Every value
that comes from a caller (namespace labels, keys, filter paths and operands,
vectors) travels as a query parameter; the SQL text holds only fixed words,
operators chosen from a table and validated integers. The search plans are in
:mod:`~threadloom.store.postgres._search`, the SQL pieces both use in
:mod:`~threadloom.store.postgres._sql`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from threadloom._postgres import Plan, Query
from threadloom.errors import InvalidValueError
from threadloom.store._fusion import DEFAULT_FUSION, FusionConfig
from threadloom.store.base import (
    DeleteNamespaceOp,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchOp,
)
from threadloom.store.postgres._schema import VectorLayout
from threadloom.store.postgres._search import REFRESH, SearchPlans
from threadloom.store.postgres._sql import (
    ITEM_COLUMNS,
    LIVE,
    SEP,
    Params,
    item_from_row,
    ns_text,
    prefix_sql,
    readable,
)
from threadloom.store.postgres._wide import WideHybrid
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
    "StorePlanner",
    "backfill_keyword_plan",
    "deferred_index_plan",
    "index_pending_plan",
    "sweep_ttl_plan",
]


def _matches(ns: tuple[str, ...], kind: str, pattern: tuple[str, ...]) -> bool:
    if len(pattern) > len(ns):
        return False
    part = ns[: len(pattern)] if kind == "prefix" else ns[len(ns) - len(pattern) :]
    return all(p == "*" or p == label for p, label in zip(pattern, part, strict=True))


@dataclass(frozen=True)
class StorePlanner(SearchPlans):
    """Turns validated operations (and their embeddings) into plans."""

    layout: VectorLayout | None
    ef_search: int = 100
    #: The keyword-indexed paths; ``None``: the store keeps no keyword index.
    text_fields: tuple[str, ...] | None = None
    fusion: FusionConfig = DEFAULT_FUSION
    large_scopes: dict[tuple[str, ...], None] = field(default_factory=dict, compare=False)
    wide: WideHybrid | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.layout is not None and self.text_fields is not None:
            object.__setattr__(self, "wide", WideHybrid.for_layout(self.layout))

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

    def batch(self, ops: Sequence[Op], embedded: Any, *, defer: bool = False) -> Plan[list[Result]]:
        """Run ``ops`` in order, in one transaction; runs of puts are written in bulk.

        ``defer``: a few vectors written by parameters skip the HNSW index (an indexer
        runs, see :func:`index_pending_plan`); a bulk put's enter it at once.
        """
        results: list[Result] = [None] * len(ops)
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, PutOp):
                run: list[tuple[int, PutOp]] = []
                while i < len(ops) and isinstance(ops[i], PutOp):
                    run.append((i, ops[i]))  # type: ignore[arg-type]
                    i += 1
                yield from self.puts(run, embedded, defer=defer)
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

    def puts(
        self, puts: list[tuple[int, PutOp]], embedded: Any, *, defer: bool = False
    ) -> Plan[None]:
        # The last put of an address wins; earlier ones in the same run are never visible.
        latest: dict[tuple[str, str], tuple[int, PutOp]] = {}
        for position, op in puts:
            latest[(ns_text(op.namespace), op.key)] = (position, op)
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
                yield from one_put(self.layout, ns, key, op, bodies, rows, defer=defer)
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
            yield from insert_vectors(self.layout, vectors, texts, defer=defer)
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
        if not readable(op.namespace) or "\x00" in op.key:
            return None
        address = (ns_text(op.namespace), op.key)
        if op.refresh_ttl:
            yield Query(REFRESH + "s.namespace = %s AND s.key = %s", address)
        found = yield Query(
            f"SELECT {ITEM_COLUMNS} FROM threadloom_store s "
            f"WHERE s.namespace = %s AND s.key = %s AND {LIVE}",
            address,
        )
        return item_from_row(found.rows[0]) if found.rows else None

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
        if not readable(tuple(literal)):
            return []
        where = prefix_sql(tuple(literal), params, "s.namespace")
        found = yield Query(
            f"SELECT DISTINCT s.namespace FROM threadloom_store s WHERE {where} AND {LIVE}",
            params,
        )
        names: set[tuple[str, ...]] = set()
        for (text,) in found.rows:
            ns = tuple(text.split(SEP))
            if all(_matches(ns, c.match_type, tuple(c.path)) for c in conditions):
                names.add(ns[: op.max_depth] if op.max_depth else ns)
        return sorted(names)[op.offset : op.offset + op.limit]


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


def index_pending_plan(limit: int, *, nowait: bool = False) -> Plan[int]:
    """Put up to ``limit`` vectors that single puts kept out of the HNSW index into it.

    Marking a row ``indexed`` writes a new version of it, which the partial HNSW
    index takes in. Rows another indexer holds are skipped; a put that rewrites a
    row meanwhile waits for the row and leaves it unindexed again, with its new
    vector. Returns how many rows were indexed (0: none was waiting).

    With ``nowait`` (the background indexer) the plan waits for no lock: it fails at
    once when another session holds the table, so it never keeps a connection it
    shares with requests waiting behind someone else's lock.
    """
    if nowait:
        yield Query("LOCK TABLE threadloom_store_vectors IN ROW EXCLUSIVE MODE NOWAIT")
    done = yield Query(
        "UPDATE threadloom_store_vectors v SET indexed = TRUE FROM ("
        "SELECT namespace, key, field, seq FROM threadloom_store_vectors WHERE NOT indexed "
        f"LIMIT {int(limit)} FOR UPDATE SKIP LOCKED) w "
        "WHERE v.namespace = w.namespace AND v.key = w.key AND v.field = w.field "
        "AND v.seq = w.seq AND NOT v.indexed"
    )
    return done.rowcount


def deferred_index_plan(index_name: str) -> Plan[bool]:
    """Whether the HNSW index ``index_name`` exists and holds indexed rows only, so that
    deferring a put's vectors saves its upkeep (an index built by an older version
    holds every row: deferring would only add work)."""
    found = yield Query(
        "SELECT i.indpred IS NOT NULL FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
        (index_name,),
    )
    return bool(found.rows and found.rows[0][0])
