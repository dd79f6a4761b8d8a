"""While the vector indexer runs, single puts leave their vectors out of the HNSW index:
searches find them at once (compared exactly), the indexer adds them once puts pause, and
nothing is lost or stale on the way, even when a put races the indexer on the same row."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import psycopg
import pytest

from threadloom.store.base import PutOp
from threadloom.store.postgres import PostgresStore
from threadloom.store.postgres.aio import AsyncPostgresStore

DIMS = 8


def embed(texts: list[str]) -> np.ndarray:
    """``"v:<n>"`` is the n-th unit vector of a fixed random table."""
    table = np.random.default_rng(3).standard_normal((5000, DIMS)).astype(np.float32)
    return np.asarray([table[int(t.split(":")[1])] for t in texts], dtype=np.float32)


INDEX: Any = {"dims": DIMS, "embed": embed, "fields": ["text"]}


def unindexed(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM threadloom_store_vectors WHERE NOT indexed"
        ).fetchone()
        assert row is not None
        return int(row[0])


def hold_indexing(store: PostgresStore) -> None:
    """Restart the indexer so that it decides to defer, then indexes nothing by itself
    (the test calls index_pending): no timing decides what a test sees."""
    store.stop_indexer()
    store.start_indexer(quiet_s=3600, poll_s=3600)
    assert store._indexer is not None and store._indexer.wait_idle(10)
    assert store._deferring


def best_key(store: PostgresStore, prefix: tuple[str, ...], n: int) -> tuple[str, float]:
    [hit] = store.search(prefix, query=f"v:{n}", limit=1)
    assert hit.score is not None
    return hit.key, hit.score


def test_the_indexer_indexes_deferred_vectors_once_puts_pause(pg_dsn: str) -> None:
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        assert store._indexer is not None and store._indexer.wait_idle(10)
        assert store._deferring  # the index built by setup() holds indexed rows only
        for i in range(5):
            store.put(("m",), f"k{i}", {"text": f"v:{i}"})
        assert store._indexer.wait_idle(10)
        assert unindexed(pg_dsn) == 0
        assert best_key(store, ("m",), 3) == ("k3", pytest.approx(1.0, abs=1e-5))


def test_a_deferred_vector_is_found_at_once_and_after_indexing(pg_dsn: str) -> None:
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        store.batch([PutOp(("m", f"u{i % 7}"), f"k{i}", {"text": f"v:{i}"}) for i in range(400)])
        hold_indexing(store)
        assert unindexed(pg_dsn) == 0  # a bulk put indexes at once
        for i in range(400, 430):
            store.put(("m", f"u{i % 7}"), f"k{i}", {"text": f"v:{i}"})
        assert unindexed(pg_dsn) == 30
        for i in (400, 415, 429):  # found by global and per-user searches before indexing
            assert best_key(store, ("m",), i) == (f"k{i}", pytest.approx(1.0, abs=1e-5))
            assert best_key(store, ("m", f"u{i % 7}"), i)[0] == f"k{i}"
        hybrid = store.search(("m",), query="v:420", mode="hybrid", limit=3)
        assert hybrid[0].key == "k420"
        assert store.index_pending() == 30
        assert unindexed(pg_dsn) == 0
        for i in (400, 415, 429):
            assert best_key(store, ("m",), i) == (f"k{i}", pytest.approx(1.0, abs=1e-5))
    # After the store closes nothing defers: a put's vector enters the index at once.
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        plain = PostgresStore(conn, index=INDEX)
        plain.put(("m", "u1"), "late", {"text": "v:4000"})
        assert unindexed(pg_dsn) == 0
        assert best_key(plain, ("m",), 4000)[0] == "late"


def test_a_re_put_replaces_the_vector_whether_or_not_it_was_indexed(pg_dsn: str) -> None:
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        store.batch([PutOp(("m",), f"k{i}", {"text": f"v:{i}"}) for i in range(200)])
        hold_indexing(store)
        store.put(("m",), "k5", {"text": "v:3000"})  # indexed before, deferred now
        assert best_key(store, ("m",), 3000)[0] == "k5"
        assert best_key(store, ("m",), 5)[0] != "k5"  # the old vector is gone from the index
        store.put(("m",), "k5", {"text": "v:3001"})  # deferred twice
        assert best_key(store, ("m",), 3001)[0] == "k5"
        assert best_key(store, ("m",), 3000)[0] != "k5"
        assert unindexed(pg_dsn) == 1
        assert store.index_pending() == 1 and unindexed(pg_dsn) == 0
        assert best_key(store, ("m",), 3001) == ("k5", pytest.approx(1.0, abs=1e-5))
        store.delete(("m",), "k5")
        assert best_key(store, ("m",), 3001)[0] != "k5"


def test_puts_racing_the_indexer_on_one_row_end_with_the_last_vector_indexed(
    pg_dsn: str,
) -> None:
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX, pool_size=3) as store:
        store.setup()
        store.batch([PutOp(("m",), f"k{i}", {"text": f"v:{i}"}) for i in range(100)])
        hold_indexing(store)
        stop = threading.Event()

        def index_all_the_time() -> None:
            while not stop.is_set():
                store.index_pending()

        racer = threading.Thread(target=index_all_the_time)
        racer.start()
        try:
            for n in range(1000, 1300):
                store.put(("m",), "hot", {"text": f"v:{n}"})
        finally:
            stop.set()
            racer.join()
        store.index_pending()
        assert unindexed(pg_dsn) == 0
        with psycopg.connect(pg_dsn) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM threadloom_store_vectors WHERE key = 'hot'"
            ).fetchone()
        assert rows == (1,)
        assert best_key(store, ("m",), 1299) == ("hot", pytest.approx(1.0, abs=1e-5))


def test_an_index_built_by_an_older_version_keeps_puts_from_deferring(pg_dsn: str) -> None:
    """A full HNSW index (every row) would be updated twice by deferring: puts index at once."""
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        PostgresStore(conn, index=INDEX).setup()
        conn.execute("DROP INDEX threadloom_store_vectors_hnsw_cosine")
        conn.execute(
            "CREATE INDEX threadloom_store_vectors_hnsw_cosine ON threadloom_store_vectors "
            "USING hnsw (embedding vector_cosine_ops)"
        )
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        assert store._indexer is not None and store._indexer.wait_idle(10)
        assert not store._deferring
        store.put(("m",), "k", {"text": "v:1"})
        assert unindexed(pg_dsn) == 0
        assert best_key(store, ("m",), 1)[0] == "k"


def test_a_store_stopped_with_rows_waiting_leaves_them_searchable(pg_dsn: str) -> None:
    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        hold_indexing(store)
        for i in range(20):
            store.put(("m",), f"k{i}", {"text": f"v:{i}"})
        store.stop_indexer()
        assert unindexed(pg_dsn) == 20
        assert best_key(store, ("m",), 7)[0] == "k7"
        assert store.index_pending() == 20
        assert unindexed(pg_dsn) == 0 and best_key(store, ("m",), 7)[0] == "k7"


async def test_the_async_store_defers_and_indexes_alike(pg_dsn: str) -> None:
    async with AsyncPostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        await store.setup()
        await store.stop_indexer()
        await store.start_indexer(quiet_s=3600, poll_s=3600)
        assert store._indexer is not None and await store._indexer.wait_idle(10)
        assert store._deferring
        for i in range(25):
            await store.aput(("m",), f"k{i}", {"text": f"v:{i}"})
        assert unindexed(pg_dsn) == 25
        [hit] = await store.asearch(("m",), query="v:12", limit=1)
        assert hit.key == "k12"
        assert await store.index_pending() == 25
        assert unindexed(pg_dsn) == 0
        await store.stop_indexer()
        await store.start_indexer()  # the defaults: it catches up once puts pause
        assert await store._indexer.wait_idle(10)
        for i in range(25, 30):
            await store.aput(("m",), f"k{i}", {"text": f"v:{i}"})
        assert await store._indexer.wait_idle(10)
        assert unindexed(pg_dsn) == 0


async def test_the_async_indexer_stops_when_a_wake_and_the_stop_meet(pg_dsn: str) -> None:
    """A put wakes the idle indexer and the store closes in the same turn of the loop.

    Before Python 3.12, ``asyncio.wait_for`` returns the inner result instead of raising
    when the cancellation and that result arrive together: a stop that only cancelled the
    task lost its cancellation, and closing the store waited forever.
    """
    async with AsyncPostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        await store.setup()
        for _ in range(3):
            indexer = store._indexer
            assert indexer is not None and await indexer.wait_idle(10)
            indexer.notify()  # as a deferred put does
            stopping = asyncio.ensure_future(store.stop_indexer())
            done, _ = await asyncio.wait({stopping}, timeout=10)
            if not done:
                stopping.cancel()
                await asyncio.gather(stopping, return_exceptions=True)
            assert done, "stop_indexer() did not return: the indexer missed its stop"
            await store.start_indexer()


def test_the_indexer_never_keeps_a_shared_connection_waiting_on_a_lock(pg_dsn: str) -> None:
    """Another session holds the vectors table: the indexer's round gives up at once, so a
    request on the store's one connection is not queued behind it; it catches up later."""
    import concurrent.futures

    with PostgresStore.from_conn_string(pg_dsn, index=INDEX) as store:
        store.setup()
        store.stop_indexer()
        store.start_indexer(quiet_s=0.05, poll_s=3600)
        assert store._indexer is not None and store._indexer.wait_idle(10)
        store.put(("m",), "k1", {"text": "v:1"})  # deferred: the indexer wakes in 0.05 s
        pool = concurrent.futures.ThreadPoolExecutor(1)
        with psycopg.connect(pg_dsn) as blocker:
            blocker.execute("LOCK TABLE threadloom_store_vectors IN ACCESS EXCLUSIVE MODE")
            try:
                time.sleep(0.5)  # the indexer's round has come and gone
                got = pool.submit(store.get, ("m",), "k1").result(timeout=5)
                assert got is not None and got.key == "k1"
                assert not store._indexer.wait_idle(0)  # its round failed: the row waits
            finally:
                blocker.rollback()  # a failing check must not leave the lock behind
                pool.shutdown()
        store.put(("m",), "k2", {"text": "v:2"})  # wakes it again
        assert store._indexer.wait_idle(10)
        assert unindexed(pg_dsn) == 0


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "1", True, None])
def test_a_bad_pause_or_poll_is_a_clear_error_and_starts_nothing(pg_dsn: str, bad: Any) -> None:
    from threadloom.errors import InvalidStoreInputError

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index=INDEX)
        for knobs in ({"quiet_s": bad}, {"poll_s": bad}):
            with pytest.raises(InvalidStoreInputError, match="positive number of seconds"):
                store.start_indexer(**knobs)
            assert store._indexer is None and not store._deferring
