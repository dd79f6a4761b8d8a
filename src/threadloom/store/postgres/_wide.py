"""Hybrid search across a wide scope through a server-side function whose plan each
session keeps.

Planning the one statement of a hybrid search in a large scope
(:func:`~threadloom.store.postgres._search.sides_sql`) took about as long as running
it. Inside a PL/pgSQL function the same statement is planned once per session, for
every query: a generic plan, which cannot see the namespace prefix. So the function
first reads the scope's keyword statistics and runs the statement only when the scope
holds at least :data:`WIDE_SHARE` of the keyword rows (against the planner's own
estimate of the table's rows), where the HNSW index is the right path: inside the
function plans are generic from the first call, and sequential scans are off, so the
plan takes the index. For a narrower scope, or before the table was first counted, it
returns one row ``'x'``: the caller plans the statement with the prefix's values, as
before, and for that prefix goes there directly for a minute (:data:`NARROW_SECONDS`).

The function's name carries a digest of its text, so a store only ever calls the
function its own code defines (hosts of two versions may share a database);
``setup()`` creates it. A store whose ``setup()`` never created it searches with the
planned statement.

The function takes no filter (a filter's SQL depends on the filter): filtered
searches are planned each time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from threadloom._postgres import Plan, Query
from threadloom.store.postgres._schema import VectorLayout
from threadloom.store.postgres._search import keyword_sql, nearest_sql, sides_sql
from threadloom.store.postgres._sql import SEP, Params

__all__ = ["NARROW_SECONDS", "WIDE_SHARE", "WideHybrid"]

#: The least share of the store's keyword rows a scope holds for the function's plan.
WIDE_SHARE = 0.5
# How many prefixes a store remembers as too narrow for the function, and for how long:
# shares change as the store grows, and before the first count every scope is "narrow".
_NARROW_KEPT = 4096
NARROW_SECONDS = 60.0
_clock = time.monotonic

_COLUMNS = (
    "r_kind text, r_namespace text, r_key text, r_body text, r_passed boolean, "
    "r_value jsonb, r_created_at timestamptz, r_updated_at timestamptz, r_has_ttl boolean, "
    "r_dist double precision, r_n numeric, r_len numeric"
)
_NARROW_ROW = (
    "SELECT 'x'::text, NULL::text, NULL::text, NULL::text, NULL::boolean, NULL::jsonb, "
    "NULL::timestamptz, NULL::timestamptz, NULL::boolean, NULL::float8, NULL::numeric, "
    "NULL::numeric"
)
# The planner's estimate of the keyword rows now: the density of its last count
# (VACUUM or ANALYZE) times the table's pages today; NULL before any count.
_TOTAL_ROWS = """
    SELECT CASE WHEN c.reltuples < 0 THEN NULL
                WHEN c.relpages = 0 THEN c.reltuples
                ELSE c.reltuples / c.relpages
                     * (pg_relation_size(c.oid) / current_setting('block_size')::float8) END
    FROM pg_class c WHERE c.oid = 'threadloom_store_texts'::regclass"""


def _within(column: str) -> str:
    # Not the btree range the planned statement uses: a generic plan would take
    # that range for a handful of rows and pass the index by.
    return f"starts_with({column} || '{SEP}', q_within)"


@dataclass
class WideHybrid:
    """The function for one vector layout, and what a store has learned about it."""

    name: str
    ddl: str
    vector_type: str
    #: Whether the function exists in the database; ``None``: not looked up yet.
    ready: bool | None = None
    #: Prefixes the function found too narrow, with the time (``time.monotonic()``) until
    #: which that holds (a hint: a stale entry costs speed only).
    narrow: dict[tuple[str, ...], float] = field(default_factory=dict)

    @classmethod
    def for_layout(cls, layout: VectorLayout) -> WideHybrid:
        distance = f"(v.embedding {layout.operator} q_vector)"
        stats, matches = keyword_sql(
            "q_terms", "TRUE", _within("t.namespace"), _within("s.namespace")
        )
        near = nearest_sql(distance, _within("v.namespace"), "", "q_fetch", "q_pool", items=False)
        statement = sides_sql(
            "SELECT st_n AS n, st_len AS len", matches, near, distance, "q_pool", "q_page"
        )
        body = f"""
            #variable_conflict use_column
            DECLARE
                st_n numeric;
                st_len numeric;
                total double precision;
            BEGIN
                SELECT st.n, st.len INTO st_n, st_len FROM ({stats}) st;
                {_TOTAL_ROWS.strip()} INTO total;
                IF total IS NULL OR st_n < {WIDE_SHARE} * total THEN
                    RETURN QUERY {_NARROW_ROW};
                    RETURN;
                END IF;
                RETURN QUERY {statement};
            END"""
        arguments = (
            f"q_terms text, q_vector {layout.vector_type}, q_within text, "
            "q_fetch bigint, q_pool bigint, q_page bigint"
        )
        definition = (
            f"({arguments}) RETURNS TABLE ({_COLUMNS}) LANGUAGE plpgsql STABLE "
            "SET plan_cache_mode = force_generic_plan SET enable_seqscan = off "
            f"AS $fn${body}\n$fn$"
        )
        # The whole definition names it: any change makes another function.
        name = f"threadloom_store_hybrid_{hashlib.sha256(definition.encode()).hexdigest()[:16]}"
        ddl = f"CREATE OR REPLACE FUNCTION {name}{definition}"
        return cls(name, ddl, layout.vector_type)

    def setup(self) -> Plan[None]:
        """Create the function unless it exists (the caller holds the migration lock)."""
        if not (yield from self._exists()):
            yield Query(self.ddl)
        self.ready = None  # looked up again: this transaction may yet roll back

    def check(self) -> Plan[bool]:
        """Whether the function exists, looked up once per store."""
        if self.ready is None:
            self.ready = yield from self._exists()
        return self.ready

    def _exists(self) -> Plan[bool]:
        # Where a call would find it: the first schema on the search path that has it.
        found = yield Query("SELECT to_regproc(%s) IS NOT NULL", (self.name,))
        return bool(found.rows[0][0])

    def call(
        self,
        params: Params,
        terms: str,
        vector: str,
        prefix: tuple[str, ...],
        fetch: int,
        pool: int,
        page: int,
    ) -> str:
        """The statement calling the function (rows as ``sides_sql``'s, or one ``'x'``)."""
        within = SEP.join(prefix) + SEP if prefix else ""
        return (
            f"SELECT * FROM {self.name}({params.add(terms)}, "
            f"{params.add(vector)}::{self.vector_type}, {params.add(within)}, "
            f"{params.add(fetch)}::bigint, {params.add(pool)}::bigint, "
            f"{params.add(page)}::bigint)"
        )

    def is_narrow(self, prefix: tuple[str, ...]) -> bool:
        """Whether the function found ``prefix`` too narrow less than a minute ago."""
        until = self.narrow.get(prefix)
        if until is None:
            return False
        if until > _clock():
            return True
        self.narrow.pop(prefix, None)  # another thread may have dropped it too
        return False

    def remember_narrow(self, prefix: tuple[str, ...]) -> None:
        if len(self.narrow) >= _NARROW_KEPT:
            self.narrow.clear()
        self.narrow[prefix] = _clock() + NARROW_SECONDS
