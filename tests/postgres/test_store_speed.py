"""Round trips of the PostgreSQL store: a search on an idle connection is one statement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from threadloom.store.memory import InMemoryStore
from threadloom.store.postgres import PostgresStore


class CountingCursor(psycopg.Cursor[Any]):
    """Records every statement the store sends (BEGIN/COMMIT go through the connection)."""

    sent: list[str] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        CountingCursor.sent.append(str(query))
        return super().execute(query, params, **kwargs)


def embed(texts: list[str]) -> list[list[float]]:
    """A fixed random unit vector per text (the same text always gets the same one)."""
    out = []
    for text in texts:
        row = np.random.default_rng(list(text.encode())).standard_normal(8)
        out.append((row / np.linalg.norm(row)).tolist())
    return out


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg_dsn, autocommit=True, cursor_factory=CountingCursor) as conn:
        yield conn


def test_a_repeated_search_is_one_statement_outside_a_transaction(
    conn: psycopg.Connection[Any],
) -> None:
    store = PostgresStore(conn, index={"dims": 8, "embed": embed, "fields": ["text"]})
    store.setup()
    for i in range(30):
        store.put(("mem", f"u{i % 3}"), f"k{i}", {"text": f"fact {i}"})
    store.search(("mem",), query="first", limit=5)  # sets the session's search breadth once
    CountingCursor.sent.clear()
    hits = store.search(("mem", "u1"), query="second", limit=5)
    assert len(hits) == 5
    assert len(CountingCursor.sent) == 1, CountingCursor.sent
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # What the store leaves on the caller's connection (documented on PostgresStore).
    assert conn.execute("SHOW hnsw.ef_search").fetchone() == ("100",)
    assert conn.execute("SHOW hnsw.iterative_scan").fetchone() == ("relaxed_order",)


def test_a_hybrid_search_of_a_large_scope_is_one_statement_with_the_pages_values(
    conn: psycopg.Connection[Any],
) -> None:
    """The statement brings both sides, and the values of the items its page can show (a
    query matching more items than candidates takes a second one for their similarities)."""
    index: Any = {"dims": 8, "embed": embed, "fields": ["text"], "fusion": {"candidates": 6}}
    store = PostgresStore(conn, index=index)
    store.setup()
    reference = InMemoryStore(index=index)
    for target in (store, reference):
        for i in range(60):
            target.put(("mem", f"u{i % 3}"), f"k{i}", {"text": f"fact {i}", "n": i})
    store.search(("mem",), query="7", limit=5, mode="hybrid")  # marks the scope large
    CountingCursor.sent.clear()
    hits = store.search(("mem",), query="12", limit=5, offset=2, mode="hybrid")
    assert len(CountingCursor.sent) == 1, CountingCursor.sent
    want = reference.search(("mem",), query="12", limit=5, offset=2, mode="hybrid")
    assert [(h.key, h.value) for h in hits] == [(h.key, h.value) for h in want]
    assert [h.score for h in hits] == pytest.approx([h.score for h in want], abs=1e-5)


def test_a_deeper_page_widens_the_search_and_the_next_one_narrows_it(
    conn: psycopg.Connection[Any],
) -> None:
    store = PostgresStore(conn, index={"dims": 8, "embed": embed, "fields": ["text"]})
    store.setup()
    for i in range(60):
        store.put(("mem",), f"k{i}", {"text": f"fact {i}"})
    deep = store.search(("mem",), query="q", limit=50)
    assert len(deep) == 50
    assert conn.execute("SHOW hnsw.ef_search").fetchone() == ("200",)
    assert len(store.search(("mem",), query="q", limit=5)) == 5
    assert conn.execute("SHOW hnsw.ef_search").fetchone() == ("100",)


def test_a_search_inside_a_write_batch_keeps_its_settings_local(
    conn: psycopg.Connection[Any],
) -> None:
    from threadloom.store.base import PutOp, SearchOp

    store = PostgresStore(conn, index={"dims": 8, "embed": embed, "fields": ["text"]})
    store.setup()
    ops: list[Any] = [PutOp(("mem",), f"k{i}", {"text": f"fact {i}"}) for i in range(20)]
    results = store.batch([*ops, SearchOp(("mem",), None, 5, 0, "q")])
    assert len(results[-1]) == 5
    assert conn.execute("SHOW hnsw.ef_search").fetchone() == ("40",)  # pgvector's default


@pytest.mark.parametrize("vector_type", ["vector", "halfvec"])
def test_vectors_written_by_binary_copy_are_the_embedded_ones(
    conn: psycopg.Connection[Any], vector_type: str
) -> None:
    """Puts send vectors in pgvector's binary form; the server holds the same numbers."""
    index: Any = {
        "dims": 8,
        "embed": embed,
        "fields": ["a", "b"],
        "ann_index_config": {"vector_type": vector_type},
    }
    store = PostgresStore(conn, index=index)
    store.setup()
    store.put(("mem", "ü"), "k'1", {"a": "x", "b": "y"})
    rows = conn.execute(
        "SELECT namespace, key, seq, embedding::text FROM threadloom_store_vectors ORDER BY seq"
    ).fetchall()
    expected = np.asarray(embed(["x"]) + embed(["y"]), np.float32)
    if vector_type == "halfvec":
        expected = expected.astype(np.float16).astype(np.float32)
    assert [r[:3] for r in rows] == [("mem.ü", "k'1", 0), ("mem.ü", "k'1", 1)]
    stored = np.array([[float(x) for x in r[3].strip("[]").split(",")] for r in rows])
    np.testing.assert_allclose(stored, expected, rtol=1e-6)
