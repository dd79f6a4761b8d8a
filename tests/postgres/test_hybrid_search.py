"""Hybrid search on PostgreSQL ranks and scores exactly as the in-memory store does, whichever
way it takes: a scope of a few pools of items read whole and ranked in Python, or one statement
for both sides, its vector side through the index (a second round trip only when needed): more
keyword matches than candidates, a filter the index cannot satisfy, a query without terms,
expired items not yet swept. Across most of the store, that statement runs inside the store's
function, whose plan the session keeps."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
import pytest

from threadloom.store.base import PutOp
from threadloom.store.memory import InMemoryStore
from threadloom.store.postgres import PostgresStore

DIMS = 16
WORDS = ["pizza", "tromso", "puppy", "violin", "snow", "fridays", "ferry", "xiomara", "garden"]


def embed(texts: list[str]) -> np.ndarray:
    rows = [
        np.random.default_rng(zlib.crc32(text.encode())).standard_normal(DIMS) for text in texts
    ]
    return np.asarray(rows, dtype=np.float32)


def items() -> list[PutOp]:
    rng = random.Random(11)
    ops = []
    for user in range(3):
        for i in range(40):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
            ops.append(
                PutOp(("m", f"u{user}"), f"k{i:02}", {"text": f"{words} {i}", "even": i % 2 == 0})
            )
    return ops


@contextmanager
def both(pg_dsn: str, index: Any) -> Iterator[tuple[Any, Any, psycopg.Connection[Any]]]:
    """A set-up store and its in-memory reference, holding :func:`items`."""
    reference = InMemoryStore(index=index)
    reference.batch(items())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index=index)
        store.setup()
        store.batch(items())
        yield store, reference, conn


@pytest.fixture
def stores(pg_dsn: str, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"], **request.param}
    with both(pg_dsn, index) as (store, reference, _):
        yield store, reference


def ranked(store: Any, prefix: tuple[str, ...], **search: Any) -> list[tuple[str, float]]:
    return [
        (f"{'.'.join(h.namespace)}/{h.key}", h.score)
        for h in store.search(prefix, mode="hybrid", **search)
    ]


def assert_same(store: Any, reference: Any, prefix: tuple[str, ...], **search: Any) -> None:
    got, want = ranked(store, prefix, **search), ranked(reference, prefix, **search)
    assert [k for k, _ in got] == [k for k, _ in want], search
    assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5), search


CASES: list[dict[str, Any]] = [
    {"query": "pizza puppy"},  # matches in every scope
    {"query": "xiomara 7"},
    {"query": "nothing matches this"},  # the keyword side is empty
    {"query": "?! --"},  # no query term at all
    {"query": "snow ferry", "filter": {"even": True}},
    {"query": "pizza", "limit": 7, "offset": 5},
]


@pytest.mark.parametrize("stores", [{}], indirect=True)
@pytest.mark.parametrize("case", CASES)
def test_a_scope_of_a_few_pools_is_read_whole(
    stores: tuple[Any, Any], case: dict[str, Any]
) -> None:
    store, reference = stores
    assert_same(store, reference, ("m", "u1"), **case)
    assert_same(store, reference, ("m",), **case)
    assert not store._planner.large_scopes


@pytest.mark.parametrize("stores", [{}], indirect=True)
@pytest.mark.parametrize("case", CASES)
def test_a_scope_taken_for_large_is_searched_in_one_statement(
    stores: tuple[Any, Any], case: dict[str, Any]
) -> None:
    """A scope taken for large (the hint a store keeps) that holds few items: the one
    statement, whose vector side goes through the index and finds every item there."""
    store, reference = stores
    store._planner.large_scopes.update({("m", "u1"): None, ("m",): None})
    assert_same(store, reference, ("m", "u1"), **case)
    assert_same(store, reference, ("m",), **case)


@pytest.mark.parametrize("stores", [{"fusion": {"candidates": 2}}], indirect=True)
def test_a_scope_that_outgrows_reading_whole_goes_to_sql(stores: tuple[Any, Any]) -> None:
    """A pool of 2 candidates (2 results asked for) reads a scope of up to 8 items whole; past
    that the store searches in SQL and remembers the prefix as large."""
    store, reference = stores
    for target in (store, reference):
        target.batch([PutOp(("s", "few"), f"f{i}", {"text": f"snow ferry {i}"}) for i in range(8)])
    assert_same(store, reference, ("s", "few"), query="snow", limit=2)
    assert ("s", "few") not in store._planner.large_scopes
    for target in (store, reference):
        target.put(("s", "few"), "f8", {"text": "snow garden"})
    assert_same(store, reference, ("s", "few"), query="snow", limit=2)
    assert ("s", "few") in store._planner.large_scopes
    assert_same(store, reference, ("s", "few"), query="garden ferry", limit=2)


@pytest.mark.parametrize("stores", [{"fusion": {"candidates": 4}}], indirect=True)
@pytest.mark.parametrize("case", CASES)
def test_a_scope_of_many_pools_goes_through_the_index(
    stores: tuple[Any, Any], case: dict[str, Any]
) -> None:
    """With 4 candidates a user's 40 items are a large scope; most queries match more
    items than there are candidates, so some similarities take a second round trip."""
    store, reference = stores
    assert_same(store, reference, ("m", "u1"), **case)
    assert_same(store, reference, ("m",), **case)
    # A filter that few items pass: the index comes up short and the search widens.
    assert_same(store, reference, ("m",), query="garden", filter={"text": "garden 3"})


@pytest.mark.parametrize("stores", [{"fusion": {"candidates": 4}}], indirect=True)
def test_expired_items_nearest_the_query_make_the_index_side_widen(
    stores: tuple[Any, Any],
) -> None:
    """Every index hit of the first statement is expired: the vector side fetches again."""
    import time

    store, reference = stores
    for target in (store, reference):
        target.batch(
            [
                PutOp(("m", "u2"), f"gone{i:02}", {"text": "garden ferry"}, ttl=0.001)
                for i in range(60)
            ]
        )
    time.sleep(0.1)
    assert_same(store, reference, ("m",), query="garden ferry")
    assert_same(store, reference, ("m", "u2"), query="garden ferry")


# --- the store's function for wide scopes ---------------------------------------------


@pytest.fixture
def wide(pg_dsn: str) -> Iterator[tuple[Any, Any, psycopg.Connection[Any]]]:
    """A store and its reference with 4 candidates (so every user's 40 items are a large
    scope), the keyword rows counted by ANALYZE (as autovacuum would)."""
    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"], "fusion": {"candidates": 4}}
    with both(pg_dsn, index) as (store, reference, conn):
        conn.execute("ANALYZE threadloom_store_texts")
        yield store, reference, conn


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The prefixes whose hybrid sides went to the statement planned with their values."""
    from threadloom.store.postgres._search import SearchPlans as plans

    seen: list[tuple[str, ...]] = []

    def spy(self: Any, op: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(op.namespace_prefix)
        return (yield from real(self, op, *args, **kwargs))

    real = plans._hybrid_sides
    monkeypatch.setattr(plans, "_hybrid_sides", spy)
    return seen


@pytest.mark.parametrize("case", CASES)
def test_a_wide_scope_is_searched_by_the_stores_function(
    wide: tuple[Any, Any, Any], planned: list[tuple[str, ...]], case: dict[str, Any]
) -> None:
    """All users' items, and the whole store: the function answers, as the in-memory store
    would; a filter (whose SQL the function cannot hold) is planned each time."""
    store, reference, _ = wide
    assert_same(store, reference, ("m",), **case)
    assert_same(store, reference, (), **case)
    assert not store._planner.wide.narrow
    if "filter" in case or case["query"] == "?! --":
        # Without a query term the planned path sends nothing (the vector side is searched alone).
        assert planned == [("m",), ()], planned
    else:
        assert planned == [] and store._planner.wide.ready is True


def test_a_scope_too_narrow_for_the_function_is_planned_and_remembered(
    wide: tuple[Any, Any, Any], planned: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One user of three (pages of 3: a large scope) holds a third of the keyword rows: the
    function declines (its plan cannot see the prefix), the store plans the statement with
    the prefix, and does so at once from then on."""
    from threadloom.store.postgres._wide import WideHybrid

    asked: list[tuple[str, ...]] = []
    call = WideHybrid.call
    monkeypatch.setattr(
        WideHybrid, "call", lambda self, *args: asked.append(args[3]) or call(self, *args)
    )
    store, reference, _ = wide
    for query in ("pizza puppy", "snow ferry", "xiomara 7"):
        assert_same(store, reference, ("m", "u1"), query=query, limit=3)
    assert asked == [("m", "u1")]
    assert planned == [("m", "u1")] * 3
    assert ("m", "u1") in store._planner.wide.narrow
    assert_same(store, reference, ("m",), query="pizza puppy", limit=3)
    assert asked == [("m", "u1"), ("m",)] and planned == [("m", "u1")] * 3


def test_a_store_whose_function_is_missing_plans_its_searches(
    wide: tuple[Any, Any, Any], planned: list[tuple[str, ...]]
) -> None:
    """A database set up by another version has no function of this one: searches are
    planned, and the next setup() creates it."""
    store, reference, conn = wide
    conn.execute(f"DROP FUNCTION {store._planner.wide.name}")
    other = PostgresStore(conn, index=store.index_config)
    assert_same(other, reference, ("m",), query="pizza puppy")
    assert other._planner.wide.ready is False and planned == [("m",)]
    other.setup()
    assert_same(other, reference, ("m",), query="snow ferry")
    assert other._planner.wide.ready is True and planned == [("m",)]


def test_the_functions_plan_reads_the_vector_index(wide: tuple[Any, Any, Any]) -> None:
    """The function's generic plan (kept for the session) takes the HNSW index, not a scan
    and sort of every vector; its keyword side, the GIN index."""
    store, _, conn = wide
    plans: list[str] = []
    conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
    conn.execute("LOAD 'auto_explain'")
    for setting, value in [
        ("log_min_duration", "0"),
        ("log_nested_statements", "on"),
        ("log_level", "notice"),
    ]:
        conn.execute(f"SET auto_explain.{setting} = {value}")
    for word in WORDS:
        store.search(("m",), query=word, mode="hybrid")
    conn.execute("RESET auto_explain.log_min_duration")
    sides = [plan for plan in plans if "near AS MATERIALIZED" in plan]
    assert len(sides) == len(WORDS), plans
    for plan in sides[-2:]:  # past the first calls, whatever the plan cache decides
        assert "Index Scan using threadloom_store_vectors_hnsw_cosine" in plan, plan
        assert "Seq Scan on threadloom_store_vectors" not in plan, plan
        assert "Bitmap Index Scan on threadloom_store_texts_tsv" in plan, plan


def test_each_layout_has_a_function_of_its_own() -> None:
    """Named by a digest of its whole definition: another distance or vector type is another
    function, the same layout always the same one (in any process)."""
    from threadloom.store.postgres._schema import VectorLayout
    from threadloom.store.postgres._wide import WideHybrid

    names = {
        WideHybrid.for_layout(VectorLayout(DIMS, vector_type, distance)).name
        for vector_type in ("vector", "halfvec")
        for distance in ("cosine", "l2", "inner_product")
    }
    assert len(names) == 6
    assert WideHybrid.for_layout(VectorLayout(8)).name == WideHybrid.for_layout(VectorLayout(8)).name
    # dims and HNSW build parameters are the table's and the index's, not the function's.
    assert WideHybrid.for_layout(VectorLayout(8, m=8)).name == WideHybrid.for_layout(
        VectorLayout(384)
    ).name


async def test_the_async_store_searches_through_the_same_function(
    wide: tuple[Any, Any, Any], planned: list[tuple[str, ...]], pg_dsn: str
) -> None:
    from threadloom.store.postgres import AsyncPostgresStore

    store, reference, _ = wide
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        other = AsyncPostgresStore(conn, index=store.index_config)
        for query in ("pizza puppy", "snow ferry"):
            got = await other.asearch(("m",), query=query, mode="hybrid")
            want = reference.search(("m",), query=query, mode="hybrid")
            assert [(h.key, h.value) for h in got] == [(h.key, h.value) for h in want]
            assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-5)
    assert planned == [] and other._planner.wide.ready is True


def test_before_the_first_count_the_function_declines_and_is_asked_again_later(
    pg_dsn: str, planned: list[tuple[str, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new database whose keyword rows no ANALYZE (or autovacuum) has counted yet: the
    function cannot tell a wide scope, so the store plans; a minute later it asks again."""
    from threadloom.store.postgres import _wide

    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"], "fusion": {"candidates": 4}}
    reference = InMemoryStore(index=index)
    reference.batch(items())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index=index)
        store.setup()
        conn.execute("ALTER TABLE threadloom_store_texts SET (autovacuum_enabled = false)")
        store.batch(items())
        assert_same(store, reference, ("m",), query="pizza puppy")
        assert_same(store, reference, ("m",), query="snow ferry")
        assert planned == [("m",), ("m",)] and store._planner.wide.is_narrow(("m",))
        conn.execute("ANALYZE threadloom_store_texts")
        assert_same(store, reference, ("m",), query="violin")
        assert len(planned) == 3  # the verdict still stands
        later = _wide._clock() + _wide.NARROW_SECONDS + 1
        monkeypatch.setattr(_wide, "_clock", lambda: later)
        assert_same(store, reference, ("m",), query="garden")
        assert len(planned) == 3 and not store._planner.wide.is_narrow(("m",))
