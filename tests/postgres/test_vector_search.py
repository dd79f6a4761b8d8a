"""pgvector for real: the planner uses the HNSW index, top-k survives prefixes and filters,
recall@10 against exact search is at least 0.98, and every distance orders best first."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import numpy as np
import psycopg
import pytest

from threadloom._postgres import Result
from threadloom.store.base import PutOp, SearchOp
from threadloom.store.postgres import PostgresStore
from threadloom.testing.postgres import PostgresServer

DIMS, USERS, PER_USER, QUERIES = 32, 40, 100, 40


class TableEmbed:
    """Texts 'i:<n>' and 'q:<n>' map to rows of fixed matrices (so exact answers are known)."""

    def __init__(self, items: np.ndarray, queries: np.ndarray) -> None:
        self.items, self.queries = items, queries

    def __call__(self, texts: list[str]) -> list[list[float]]:
        table = {"i": self.items, "q": self.queries}
        return [table[t[0]][int(t[2:])].tolist() for t in texts]


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def corpus() -> TableEmbed:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((20, DIMS))
    items = centres[rng.integers(0, 20, USERS * PER_USER)] + 0.6 * rng.standard_normal(
        (USERS * PER_USER, DIMS)
    )
    queries = centres[rng.integers(0, 20, QUERIES)] + 0.6 * rng.standard_normal((QUERIES, DIMS))
    return TableEmbed(unit(items).astype(np.float32), unit(queries).astype(np.float32))


@pytest.fixture(scope="module")
def module_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    schema = f"v_{secrets.token_hex(5)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield postgres_server.dsn + "?options=" + quote(f"-csearch_path={schema},public")
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def store(module_dsn: str, corpus: TableEmbed) -> Iterator[PostgresStore]:
    index: Any = {"dims": DIMS, "embed": corpus, "fields": ["text"]}
    with PostgresStore.from_conn_string(module_dsn, index=index) as store:
        store.setup()
        ops = [
            PutOp(
                ("mem", f"u{n // PER_USER}"),
                f"k{n}",
                {"text": f"i:{n}", "bucket": n % 10, "rare": n % 200 == 0},
            )
            for n in range(USERS * PER_USER)
        ]
        for start in range(0, len(ops), 1000):
            store.batch(ops[start : start + 1000])
        with psycopg.connect(module_dsn, autocommit=True) as conn:
            conn.execute("ANALYZE threadloom_store; ANALYZE threadloom_store_vectors")
        yield store


def exact_top(corpus: TableEmbed, q: int, keep: np.ndarray, k: int = 10) -> list[str]:
    scores = corpus.items @ corpus.queries[q]
    scores[~keep] = -np.inf
    order = np.argsort(-scores)[:k]
    return [f"k{n}" for n in order if np.isfinite(scores[n])]


def recall(
    store: PostgresStore,
    corpus: TableEmbed,
    prefix: tuple[str, ...],
    keep_for: Any,
    filter: Any = None,
) -> float:
    found = expected = 0
    for q in range(QUERIES):
        truth = exact_top(corpus, q, keep_for(q))
        got = [i.key for i in store.search(prefix, query=f"q:{q}", filter=filter, limit=10)]
        assert len(got) == len(truth)  # a prefix or filter never cuts the top-k short
        found += len(set(got) & set(truth))
        expected += len(truth)
    return found / expected


ids = np.arange(USERS * PER_USER)


def test_global_search_recall_at_10(store: PostgresStore, corpus: TableEmbed) -> None:
    """Searching every user, recall@10 against exact search is at least 0.98."""
    assert recall(store, corpus, ("mem",), lambda q: np.ones(len(ids), bool)) >= 0.98


def test_per_user_search_recall_at_10(store: PostgresStore, corpus: TableEmbed) -> None:
    """Searching one user's memories finds that user's true top 10."""
    r = recall(store, corpus, ("mem", "u3"), lambda q: ids // PER_USER == 3)
    assert r >= 0.98


def test_filtered_search_recall_at_10(store: PostgresStore, corpus: TableEmbed) -> None:
    """A filter keeping 20% of items still yields a full, accurate top 10."""
    r = recall(store, corpus, ("mem",), lambda q: ids % 10 < 2, {"bucket": {"$lt": 2}})
    assert r >= 0.98


def test_very_selective_filter_is_exact(store: PostgresStore, corpus: TableEmbed) -> None:
    """A filter keeping 0.5% of items returns exactly the true top matches."""
    r = recall(store, corpus, ("mem",), lambda q: ids % 200 == 0, {"rare": True})
    assert r == 1.0


def test_scores_are_best_first_cosine_similarities(
    store: PostgresStore, corpus: TableEmbed
) -> None:
    """Scores are cosine similarities, non-increasing down the page, and offset pages continue."""
    first = store.search(("mem",), query="q:0", limit=10)
    second = store.search(("mem",), query="q:0", limit=10, offset=10)
    scores = [i.score for i in first + second]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    best = int(first[0].key[1:])
    assert first[0].score == pytest.approx(float(corpus.items[best] @ corpus.queries[0]), abs=1e-4)
    assert not {i.key for i in first} & {i.key for i in second}


def explain(store: PostgresStore, dsn: str, op: SearchOp) -> str:
    """The server's plan for the similarity query a search runs."""
    checked, embedding = store._prepare([op])
    plan = store._batch_plan(checked, embedding.embed(store._index))
    plans: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction(), conn.cursor() as cur:
        query = next(plan)
        try:
            while True:
                if "WITH hits" in str(query.sql):
                    cur.execute("EXPLAIN " + str(query.sql), query.params)
                    plans.append("\n".join(row[0] for row in cur.fetchall()))
                cur.execute(query.sql, query.params)
                rows = cur.fetchall() if cur.description else []
                query = plan.send(Result(rows, cur.rowcount))
        except StopIteration:
            pass
    return plans[0]


@pytest.mark.parametrize(
    ("prefix", "filter"),
    [((), None), (("mem",), None), (("mem",), {"bucket": {"$lt": 5}})],
    ids=["global", "prefix", "prefix+filter"],
)
def test_planner_uses_the_hnsw_index(
    store: PostgresStore, module_dsn: str, prefix: Any, filter: Any
) -> None:
    """Global, prefix-scoped and filtered searches are answered by an HNSW index scan."""
    text = explain(store, module_dsn, SearchOp(prefix, filter, 10, 0, "q:1"))
    assert "threadloom_store_vectors_hnsw_cosine" in text, text


@pytest.mark.parametrize("prefix", [(), ("mem",)], ids=["global", "prefix"])
def test_rows_left_for_the_indexer_are_read_through_their_own_index(
    store: PostgresStore, module_dsn: str, prefix: Any
) -> None:
    """The vectors single puts kept out of the HNSW index are found through the partial
    btree that holds them alone: a search scans no table for them."""
    text = explain(store, module_dsn, SearchOp(prefix, None, 10, 0, "q:1"))
    assert "threadloom_store_vectors_unindexed" in text, text
    assert "Seq Scan on threadloom_store_vectors" not in text, text


def test_one_users_search_may_use_the_namespace_index(
    store: PostgresStore, module_dsn: str
) -> None:
    """A single user's few rows are read through the namespace btree, never a full table scan."""
    text = explain(store, module_dsn, SearchOp(("mem", "u5"), None, 10, 0, "q:1"))
    assert "Seq Scan on threadloom_store_vectors" not in text, text


@pytest.mark.parametrize("distance", ["cosine", "l2", "inner_product"])
@pytest.mark.parametrize("vector_type", ["vector", "halfvec"])
def test_every_distance_orders_best_first(pg_dsn: str, distance: str, vector_type: str) -> None:
    """cosine, l2 and inner product (on vector and halfvec) each rank the nearest item first."""
    table = {
        "near": [1.0, 0.1, 0.0],
        "mid": [1.0, 1.0, 0.0],
        "far": [-1.0, 0.0, 0.2],
        "query": [1.0, 0.0, 0.0],
    }
    index: Any = {
        "dims": 3,
        "embed": lambda texts: [table[t] for t in texts],
        "fields": ["t"],
        "distance_type": distance,
        "ann_index_config": {"vector_type": vector_type},
    }
    with PostgresStore.from_conn_string(pg_dsn, index=index) as store:
        store.setup()
        for key in ("far", "mid", "near"):
            store.put(("d",), key, {"t": key})
        hits = store.search(("d",), query="query")
        with psycopg.connect(pg_dsn) as conn:
            column = conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'threadloom_store_vectors'::regclass AND attname = 'embedding'"
            ).fetchone()
            indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
    assert [h.key for h in hits] == ["near", "mid", "far"]
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)  # type: ignore[type-var]
    assert column == (f"{vector_type}(3)",)
    assert f"threadloom_store_vectors_hnsw_{distance}" in indexes


def _hnsw_definition(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes "
            "WHERE indexname = 'threadloom_store_vectors_hnsw_cosine' "
            "AND schemaname = current_schema()"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_the_hnsw_index_is_built_with_m_32_and_ef_construction_128(pg_dsn: str) -> None:
    """Larger than pgvector's 16/64: those lost recall across 1M memories (see ANNIndexConfig)."""
    index: Any = {"dims": 3, "embed": lambda texts: [[1.0, 0.0, 0.0] for _ in texts]}
    with PostgresStore.from_conn_string(pg_dsn, index=index) as store:
        store.setup()
    assert "m='32'" in _hnsw_definition(pg_dsn)
    assert "ef_construction='128'" in _hnsw_definition(pg_dsn)


@pytest.mark.parametrize(
    ("ann", "m", "ef_construction"),
    [({"m": 8, "ef_construction": 40}, 8, 40), ({"m": 100}, 100, 200)],
)
def test_configured_hnsw_parameters_reach_the_index(
    pg_dsn: str, ann: dict[str, int], m: int, ef_construction: int
) -> None:
    """ef_construction left out is at least 2 * m, as pgvector requires."""
    index: Any = {
        "dims": 3,
        "embed": lambda texts: [[1.0, 0.0, 0.0] for _ in texts],
        "ann_index_config": ann,
    }
    with PostgresStore.from_conn_string(pg_dsn, index=index) as store:
        store.setup()
        store.put(("d",), "k", {"text": "x"})
        assert [h.key for h in store.search(("d",), query="x")] == ["k"]
    definition = _hnsw_definition(pg_dsn)
    assert f"m='{m}'" in definition and f"ef_construction='{ef_construction}'" in definition
