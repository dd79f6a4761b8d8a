"""Hybrid search on PostgreSQL ranks and scores exactly as the in-memory store does, whichever
way it takes: a scope of a few pools of items read whole and ranked in Python, or one statement
for both sides, its vector side through the index (a second round trip only when needed): more
keyword matches than candidates, a filter the index cannot satisfy, a query without terms,
expired items not yet swept."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
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


@pytest.fixture
def stores(pg_dsn: str, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    index: Any = {"dims": DIMS, "embed": embed, "fields": ["text"], **request.param}
    reference = InMemoryStore(index=index)
    reference.batch(items())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index=index)
        store.setup()
        store.batch(items())
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
