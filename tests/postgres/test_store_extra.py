"""PostgresStore beyond the shared suite: SQL filters agree with the reference evaluator,
the TTL sweeper runs, and pools work for the store and the saver."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver
from threadloom.store._filters import compile_filter
from threadloom.store.base import PutOp
from threadloom.store.postgres import PostgresStore
from threadloom.store.postgres.aio import AsyncPostgresStore

FIELD_VALUES: list[Any] = [
    0,
    1,
    1.0,
    2.5,
    -3,
    10**20,
    True,
    False,
    None,
    "",
    "a",
    "B",
    "b",
    "é",
    "10",
    [1, 2],
    {"x": 1},
]
OPERANDS: list[Any] = [1, 2.5, 0, "a", "b", "10", True, None, {"x": 1}, [1, 2]]


def values() -> list[dict[str, Any]]:
    """Stored values: each field value at the top level and nested, plus a missing field."""
    out: list[dict[str, Any]] = [{}]
    for v in FIELD_VALUES:
        out.append({"f": v})
        out.append({"m": {"f": v}})
    return out


def filters() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path, operand in itertools.product(("f", "m.f"), OPERANDS):
        out.append({path: operand})
        out.append({path: {"$ne": operand}})
        out.append({path: {"$in": [operand, "zz"]}})
        out.append({path: {"$nin": [operand]}})
        if isinstance(operand, (int, float, str)) and not isinstance(operand, bool):
            for op in ("$gt", "$gte", "$lt", "$lte"):
                out.append({path: {op: operand}})
    out += [{"f": {"$exists": True}}, {"m.f": {"$exists": False}}, {"m": {"f": 1}}]
    out += [{"$or": [{"f": 1}, {"m.f": "a"}]}, {"$and": [{"f": {"$gte": 0}}, {"f": {"$lt": 2}}]}]
    return out


@pytest.fixture
def store(pg_dsn: str) -> Iterator[PostgresStore]:
    with PostgresStore.from_conn_string(pg_dsn) as store:
        store.setup()
        yield store


def test_sql_filters_agree_with_the_reference_evaluator(store: PostgresStore) -> None:
    """Every operator on every JSON type, top level and nested, selects exactly what the in-memory evaluator selects."""
    stored = values()
    store.batch([PutOp(("v",), str(i), value) for i, value in enumerate(stored)])
    for filter in filters():
        predicate = compile_filter(filter)
        assert predicate is not None
        expected = {str(i) for i, value in enumerate(stored) if predicate(value)}
        got = {item.key for item in store.search(("v",), filter=filter, limit=1000)}
        assert got == expected, filter


def test_ttl_sweeper_deletes_expired_rows_in_the_background(pg_dsn: str) -> None:
    """With sweep_interval_minutes set, from_conn_string runs a sweeper that removes expired rows."""
    ttl: Any = {"default_ttl": 0.001, "sweep_interval_minutes": 0.005}
    with PostgresStore.from_conn_string(pg_dsn, ttl=ttl) as store:
        store.setup()
        store.put(("a",), "k", {})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with psycopg.connect(pg_dsn) as conn:
                row = conn.execute("SELECT count(*) FROM threadloom_store").fetchone()
            if row == (0,):
                break
            time.sleep(0.1)
        assert row == (0,)


def test_store_and_saver_work_on_pools(pg_dsn: str) -> None:
    """from_conn_string(pool_size=...) gives a pooled store and saver that behave the same."""
    with PostgresStore.from_conn_string(pg_dsn, pool_size=3) as store:
        store.setup()
        store.put(("p",), "k", {"v": 1})
        assert store.get(("p",), "k") is not None
    with PostgresSaver.from_conn_string(pg_dsn, pool_size=3) as saver:
        saver.setup()
        assert saver.get_tuple({"configurable": {"thread_id": "x"}}) is None


async def test_async_store_and_saver_work_on_pools(pg_dsn: str) -> None:
    """The async twins open async pools the same way."""
    async with AsyncPostgresStore.from_conn_string(pg_dsn, pool_size=2) as store:
        await store.setup()
        await store.aput(("p",), "k", {"v": 1})
        item = await store.aget(("p",), "k")
        assert item is not None and item.value == {"v": 1}
    async with AsyncPostgresSaver.from_conn_string(pg_dsn, pool_size=2) as saver:
        await saver.setup()
        assert await saver.aget_tuple({"configurable": {"thread_id": "x"}}) is None


def test_a_value_postgres_cannot_hold_is_refused_without_writing(store: PostgresStore) -> None:
    """A NUL character inside a value is refused with InvalidValueError; the batch writes nothing."""
    from threadloom.errors import InvalidValueError

    with pytest.raises(InvalidValueError):
        store.batch([PutOp(("a",), "ok", {"v": 1}), PutOp(("a",), "bad", {"v": "x\x00y"})])
    assert store.get(("a",), "ok") is None


def test_items_stored_before_the_keyword_index_are_backfilled_once(pg_dsn: str) -> None:
    """A database at the schema before keyword search gets its items indexed by the first
    indexed setup; queries full of tsquery syntax are plain words."""
    from threadloom._postgres import Conn, migrate
    from threadloom.store.postgres._schema import ITEM_MIGRATIONS

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        Conn(conn).run(migrate("store", ITEM_MIGRATIONS[:3]))
        conn.execute(
            "INSERT INTO threadloom_store (namespace, key, value, created_at, updated_at) "
            "VALUES ('m.u1', 'a', %s, now(), now()), ('m.u1', 'b', %s, now(), now())",
            ('{"text": "Xiomara moved to Tromso"}', '{"text": "pizza on Fridays"}'),
        )
        plain = PostgresStore(conn)
        plain.setup()  # no index: nothing to backfill yet, the task waits
        store = PostgresStore(conn, index={"fields": ["text"]})
        store.setup()
        assert [h.key for h in store.search(("m",), query="Where did Xiomara move?")] == ["a"]
        for query in ("pizza & !xiomara", "'pizza' | <-> :* \"NEAR\" -- OR", "!!", "'"):
            store.search(("m",), query=query)
        pending = conn.execute("SELECT count(*) FROM threadloom_store_pending").fetchone()
        assert pending == (0,)
        texts = conn.execute("SELECT count(*) FROM threadloom_store_texts").fetchone()
        store.setup()  # idempotent: no second backfill
        assert conn.execute("SELECT count(*) FROM threadloom_store_texts").fetchone() == texts
        assert texts == (2,)


def test_a_single_put_replaces_every_keyword_row_and_vector_the_item_had(pg_dsn: str) -> None:
    """A re-put writing fewer texts and vectors than before (one statement) leaves none of the
    old ones; the same text again leaves its keyword row alone, and index=False clears both."""
    import numpy as np

    def embed(texts: list[str]) -> Any:
        return np.array([[float(len(t)), 1.0, 0.5] for t in texts], dtype=np.float32)

    index: Any = {"dims": 3, "embed": embed, "fields": ["a", "b"]}
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index=index)
        store.setup()

        def rows() -> tuple[list[str], int]:
            texts = conn.execute(
                "SELECT ctid::text FROM threadloom_store_texts WHERE key = 'k' ORDER BY seq"
            ).fetchall()
            vectors = conn.execute(
                "SELECT count(*) FROM threadloom_store_vectors WHERE key = 'k'"
            ).fetchone()
            assert vectors is not None
            return [t[0] for t in texts], vectors[0]

        def keyword(query: str) -> list[str]:
            return [h.key for h in store.search(("n",), query=query, mode="keyword")]

        store.put(("n",), "k", {"a": "xiomara tromso", "b": "pizza"})
        assert len(rows()[0]) == 2 and rows()[1] == 2
        store.put(("n",), "k", {"a": "puppy adopted"})
        texts, vectors = rows()
        assert len(texts) == 1 and vectors == 1
        assert keyword("pizza") == [] and keyword("xiomara") == [] and keyword("puppy") == ["k"]
        store.put(("n",), "k", {"a": "puppy adopted"})
        assert rows() == (texts, 1)  # the very same keyword row: not rewritten
        store.put(("n",), "k", {"a": "puppy adopted"}, index=False)
        assert rows() == ([], 0)
        assert store.get(("n",), "k") is not None
