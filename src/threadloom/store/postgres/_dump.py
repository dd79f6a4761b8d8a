"""Whole items out of and into PostgreSQL: the plans behind ``dump_items`` and ``load_items``.

A dump reads the live items under a prefix oldest update first (the reverse
of a search without query), and their vectors when asked; a load writes the
items with the same statements as a batch of puts (keyword rows and vectors
included), then sets each item's own timestamps and expiry, all in the
batch's one transaction.

The table does not record a put's own ``index`` paths, so a dump reports
``index=False`` for an item of a vector store that has no vectors (so a load
does not embed it) and ``None`` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom._postgres import Plan, Query
from threadloom.store._dump import LoadedItem, StoredItem, as_lists, utc
from threadloom.store.postgres._plans import StorePlanner
from threadloom.store.postgres._sql import Params, prefix_sql

__all__ = ["dump_plan", "load_plan"]

_SEP = "."


class _GivenVectors:
    """The loaded items' vectors, shaped as a batch's embeddings (``rows_of(position)``)."""

    def __init__(self, loaded: Sequence[LoadedItem]) -> None:
        self._rows = [entry.vectors for entry in loaded]

    def rows_of(self, position: int) -> Any:
        return self._rows[position]


def dump_plan(
    namespace_prefix: tuple[str, ...], *, vectors: bool, has_layout: bool
) -> Plan[list[StoredItem]]:
    """The live items under ``namespace_prefix``, oldest update first."""
    params = Params()
    where = prefix_sql(namespace_prefix, params, "s.namespace")
    with_vectors = (
        "EXISTS (SELECT 1 FROM threadloom_store_vectors v "
        "WHERE v.namespace = s.namespace AND v.key = s.key)"
        if has_layout
        else "false"
    )
    found = yield Query(
        "SELECT s.namespace, s.key, s.value, s.created_at, s.updated_at, s.ttl_minutes, "
        f"s.expires_at, {with_vectors} FROM threadloom_store s "
        f"WHERE {where} AND (s.expires_at IS NULL OR s.expires_at > now()) "
        "ORDER BY s.updated_at, s.namespace DESC, s.key DESC",
        params,
    )
    rows_of: dict[tuple[str, str], list[list[float]]] = {}
    if vectors and has_layout and found.rows:
        params = Params()
        where = prefix_sql(namespace_prefix, params, "v.namespace")
        stored = yield Query(
            "SELECT v.namespace, v.key, v.embedding::real[] FROM threadloom_store_vectors v "
            f"WHERE {where} ORDER BY v.namespace, v.key, v.field, v.seq",
            params,
        )
        for ns, key, vector in stored.rows:
            rows_of.setdefault((ns, key), []).append(vector)
    items = []
    for ns, key, value, created, updated, ttl, expires, has_vectors in found.rows:
        found_vectors = None
        if vectors and has_layout:
            found_vectors = as_lists(rows_of[(ns, key)]) if (ns, key) in rows_of else []
        items.append(
            StoredItem(
                tuple(ns.split(_SEP)),
                key,
                value,
                utc(created),
                utc(updated),
                False if has_layout and not has_vectors else None,
                ttl,
                utc(expires) if expires is not None else None,
                found_vectors,
            )
        )
    return items


def load_plan(planner: StorePlanner, loaded: Sequence[LoadedItem]) -> Plan[int]:
    """Put ``loaded`` as a batch would, then give each item its own times and expiry."""
    if not loaded:
        return 0
    yield from planner.puts(list(enumerate(entry.op for entry in loaded)), _GivenVectors(loaded))
    # The last entry of an address is the one the puts kept.
    last = {(_SEP.join(e.op.namespace), e.op.key): e for e in loaded}
    yield Query(
        "UPDATE threadloom_store s SET created_at = t.c, updated_at = t.u, expires_at = t.e "
        "FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], "
        "%s::timestamptz[]) AS t(ns, k, c, u, e) WHERE s.namespace = t.ns AND s.key = t.k",
        (
            [address[0] for address in last],
            [address[1] for address in last],
            [e.created_at for e in last.values()],
            [e.updated_at for e in last.values()],
            [e.expires_at for e in last.values()],
        ),
    )
    return len(loaded)
