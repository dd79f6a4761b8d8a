"""Each namespace's keyword statistics (row count, total length) are kept by triggers: after
any mix of writes they equal a fresh count of the keyword rows, and BM25 scores follow."""

from __future__ import annotations

import random
import threading
import time
from typing import Any, cast

import psycopg
import pytest

from threadloom.store.base import PutOp
from threadloom.store.memory import InMemoryStore
from threadloom.store.postgres import PostgresStore

WORDS = ["tromso", "pizza", "puppy", "memory", "fridays", "xiomara", "violin", "snow"]


def kept(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        "SELECT namespace, rows, length FROM threadloom_store_text_stats WHERE rows <> 0"
    ).fetchall()
    return {ns: (int(n), int(length)) for ns, n, length in rows}


def counted(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        "SELECT namespace, count(*), sum(length) FROM threadloom_store_texts GROUP BY namespace"
    ).fetchall()
    return {ns: (int(n), int(length)) for ns, n, length in rows}


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))


def test_statistics_follow_every_kind_of_write(pg_dsn: str) -> None:
    rng = random.Random(5)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        store = PostgresStore(conn, index={"fields": ["a", "b"]})
        store.setup()
        namespaces = [("m", f"u{i}") for i in range(4)] + [("m", "u0", "deep")]
        for step in range(300):
            ns, key = rng.choice(namespaces), f"k{rng.randrange(12)}"
            choice = rng.random()
            if choice < 0.35:  # one put: zero, one or two texts
                value = {f: text(rng) for f in ("a", "b") if rng.random() < 0.7}
                store.put(ns, key, value, index=False if rng.random() < 0.1 else None)
            elif choice < 0.6:  # a batch, with repeated keys in it
                store.batch(
                    [
                        PutOp(rng.choice(namespaces), f"k{rng.randrange(12)}", {"a": text(rng)})
                        for _ in range(rng.randint(2, 12))
                    ]
                )
            elif choice < 0.75:
                store.delete(ns, key)
            elif choice < 0.8:
                store.delete_namespace(ns[:1] if rng.random() < 0.2 else ns)
            elif choice < 0.9:  # the same text again: the keyword row is left alone
                found = store.get(ns, key)
                if found is not None:
                    store.put(ns, key, found.value)
            else:
                store.put(ns, key, {"a": text(rng)}, ttl=0.0001)
                time.sleep(0.01)
                store.sweep_ttl()
            if step % 25 == 0:
                assert kept(conn) == counted(conn), f"after step {step}"
        assert kept(conn) == counted(conn)
        conn.execute("TRUNCATE threadloom_store CASCADE")
        assert kept(conn) == {}
        store.put(("m", "u1"), "k", {"a": "snow snow"})
        assert kept(conn) == {"m.u1": (1, 2)}


def test_concurrent_writers_in_one_namespace_keep_exact_counts(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        PostgresStore(conn, index={"fields": ["a"]}).setup()

    def writer(worker: int) -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as own:
            store = PostgresStore(own, index={"fields": ["a"]})
            for i in range(60):
                store.put(("m", "shared"), f"w{worker}-{i % 20}", {"a": "pizza " * (i % 3 + 1)})
                if i % 7 == 0:
                    store.batch([PutOp(("m", "shared"), f"w{worker}-{i}", {"a": "snow"})])

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert kept(conn) == counted(conn)


def test_a_database_from_before_the_statistics_gets_them_counted_at_setup(pg_dsn: str) -> None:
    """setup() on a version-4 database counts the rows already there; scores equal the
    in-memory store's on the same items."""
    from threadloom._postgres import Conn, migrate
    from threadloom.store.postgres._schema import ITEM_MIGRATIONS

    items: dict[tuple[tuple[str, ...], str], dict[str, str]] = {
        (("m", "u1"), "k1"): {"a": "xiomara moved to tromso", "b": "pizza on fridays"},
        (("m", "u1"), "k2"): {"a": "moved the piano"},
        (("m", "u2"), "k3"): {"a": "a puppy called snow"},
    }
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        Conn(conn).run(migrate("store", ITEM_MIGRATIONS[:4]))
        old = PostgresStore(conn, index={"fields": ["a"]})
        for (ns, key), value in items.items():
            old.put(ns, key, value)
        assert conn.execute("SELECT to_regclass('threadloom_store_text_stats')").fetchone() == (
            None,
        )
        store = PostgresStore(conn, index={"fields": ["a"]})
        store.setup()
        assert kept(conn) == counted(conn)
        assert {ns: n for ns, (n, _) in kept(conn).items()} == {"m.u1": 2, "m.u2": 1}
        reference = InMemoryStore(index={"fields": ["a"]})
        for (ns, key), value in items.items():
            reference.put(ns, key, value)
        for query in ("tromso", "snow puppy", "moved"):
            got = [(h.key, h.score) for h in store.search(("m",), query=query)]
            want = [(h.key, h.score) for h in reference.search(("m",), query=query)]
            assert [k for k, _ in got] == [k for k, _ in want]
            assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-9)


def _keyword_index_options(conn: psycopg.Connection[Any]) -> list[str] | None:
    row = conn.execute(
        "SELECT reloptions FROM pg_class WHERE relname = 'threadloom_store_texts_tsv'"
    ).fetchone()
    assert row is not None
    return cast("list[str] | None", row[0])


def test_a_new_keyword_index_takes_new_rows_into_its_tree_at_once(pg_dsn: str) -> None:
    """No pending list for keyword searches to read through: GIN's fast update is off."""
    with PostgresStore.from_conn_string(pg_dsn, index={"fields": ["a"]}) as store:
        store.setup()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert _keyword_index_options(conn) == ["fastupdate=off"]


def test_setup_turns_the_pending_list_of_an_older_keyword_index_off(pg_dsn: str) -> None:
    """setup() on a version-5 database turns fast update off and merges what waits."""
    from threadloom._postgres import Conn, migrate
    from threadloom.store.postgres._schema import ITEM_MIGRATIONS

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        Conn(conn).run(migrate("store", ITEM_MIGRATIONS[:5]))
        assert _keyword_index_options(conn) is None  # GIN's default: fast update on
        old = PostgresStore(conn, index={"fields": ["a"]})
        old.batch([PutOp(("m", "u1"), f"k{i}", {"a": f"note {i} snow"}) for i in range(200)])
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        assert _pending_pages(conn) > 0
        store = PostgresStore(conn, index={"fields": ["a"]})
        store.setup()
        assert _keyword_index_options(conn) == ["fastupdate=off"]
        assert _pending_pages(conn) == 0
        store.put(("m", "u1"), "k200", {"a": "note 200 snow"})
        assert _pending_pages(conn) == 0
        hits = store.search(("m",), query="snow 7", limit=3)
        assert next(h.key for h in hits) == "k7"


def _pending_pages(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT pending_pages FROM pgstatginindex('threadloom_store_texts_tsv')"
    ).fetchone()
    assert row is not None
    return int(row[0])
