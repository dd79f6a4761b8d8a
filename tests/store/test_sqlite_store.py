"""SqliteStore behaviour that only a file-backed store has: persistence, sharing, bad files."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from threadloom._sqlite import Database, migrate
from threadloom.errors import (
    DatabaseError,
    EmbeddingError,
    IndexConfigMismatchError,
    SchemaVersionError,
)
from threadloom.store._filters import evaluate, parse_filter
from threadloom.store.base import GetOp, PutOp, SearchOp
from threadloom.store.sqlite import SqliteStore
from threadloom.store.sqlite import _keyword_fill as keyword_fill
from threadloom.store.sqlite._schema import COMPONENT, MIGRATIONS
from threadloom.store.sqlite._sql import compile_where
from threadloom.store.sqlite._text_search import keyword_index_live, scope_tokens
from threadloom.testing.embeddings import HashingEmbed, NaNEmbed

DIMS = 32
NS = ("memories", "u1")


def index(embed: Any = None, dims: int = DIMS) -> Any:
    return {"dims": dims, "embed": embed or HashingEmbed(dims), "fields": ["text"]}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "memories.db"


def test_items_and_vectors_survive_reopening(path: Path) -> None:
    """A reopened file answers gets and semantic searches without re-embedding stored items."""
    with SqliteStore.from_conn_string(path, index=index()) as store:
        store.put(NS, "pizza", {"text": "user likes pizza"})
        store.put(NS, "name", {"text": "user name is bob"})
    embed = HashingEmbed(DIMS)
    with SqliteStore.from_conn_string(path, index=index(embed)) as store:
        assert store.get(NS, "pizza").value == {"text": "user likes pizza"}
        assert store.search(NS, query="what is the name", limit=1)[0].key == "name"
        assert embed.calls == [["what is the name"]]


def test_a_search_sees_what_another_connection_committed(path: Path) -> None:
    """Puts, re-puts and deletes through one store show in another's semantic search."""
    with SqliteStore(path, index=index()) as writer, SqliteStore(path, index=index()) as reader:
        writer.put(NS, "a", {"text": "apples and pears"})
        assert [i.key for i in reader.search(NS, query="apples")] == ["a"]  # loads the index
        writer.put(NS, "b", {"text": "bananas"})
        assert reader.search(NS, query="bananas", limit=1)[0].key == "b"
        writer.put(NS, "a", {"text": "cherries"})  # re-put: new vectors replace the old
        top = reader.search(NS, query="cherries", limit=1)[0]
        assert top.key == "a" and top.value == {"text": "cherries"} and top.score > 0.99
        writer.delete(NS, "b")
        assert [i.key for i in reader.search(NS, query="bananas")] == ["a"]
        writer.delete_namespace(("memories",))
        assert reader.search(NS, query="cherries") == []


def test_a_reader_far_behind_reloads_after_the_removal_log_is_pruned(path: Path) -> None:
    """When the deletions a reader missed were pruned from the log, it reloads and misses nothing."""
    with SqliteStore(path, index=index()) as writer, SqliteStore(path, index=index()) as reader:
        writer.put(NS, "old", {"text": "old news"})
        writer.put(NS, "keep", {"text": "kept news"})
        assert len(reader.search(NS, query="news")) == 2
        writer.delete(NS, "old")
        writer._clock = lambda: 4e9  # two hours later... enough to prune the first removal
        writer.put(NS, "new", {"text": "new news"})
        writer.delete(NS, "new")
        assert [i.key for i in reader.search(NS, query="news")] == ["keep"]


def test_a_batch_sees_its_own_puts_in_a_semantic_search(path: Path) -> None:
    """A search later in a batch finds items put earlier in the same batch."""
    with SqliteStore(path, index=index()) as store:
        store.search(NS, query="warm up")  # the index is loaded before the batch
        results = store.batch(
            [PutOp(NS, "x", {"text": "zebra crossing"}), SearchOp(NS, query="zebra", limit=1)]
        )
        assert [i.key for i in results[1]] == ["x"]
        assert store.search(NS, query="zebra", limit=1)[0].key == "x"


def test_a_failed_embedding_writes_nothing_to_the_file(path: Path) -> None:
    """A batch whose embedding fails leaves the file as it was, earlier ops included."""
    with SqliteStore(path, index=index(NaNEmbed(DIMS, trigger="poison"))) as store:
        store.put(NS, "safe", {"text": "fine"})
        with pytest.raises(EmbeddingError):
            store.batch(
                [
                    PutOp(NS, "safe", {"text": "changed"}),
                    PutOp(NS, "bad", {"text": "poison"}),
                ]
            )
        assert store.get(NS, "safe").value == {"text": "fine"}
        assert store.get(NS, "bad") is None
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM store_items").fetchone()[0] == 1
    conn.close()


def test_other_dims_than_the_file_holds_are_refused(path: Path) -> None:
    """Opening a file of 32-dim vectors with dims=16 raises IndexConfigMismatchError; the file is untouched."""
    with SqliteStore(path, index=index()) as store:
        store.put(NS, "a", {"text": "hello"})
    before = digest(path)
    with SqliteStore(path, index=index(dims=16)) as store:
        with pytest.raises(IndexConfigMismatchError, match="32 dims") as info:
            store.put(NS, "b", {"text": "mixed?"})
        assert str(path) in str(info.value)
        with pytest.raises(IndexConfigMismatchError):
            store.search(NS, query="hello")
    assert digest(path) == before
    with SqliteStore(path) as plain:  # without an index the items are still readable
        assert plain.get(NS, "a").value == {"text": "hello"}


def test_dims_are_checked_again_when_another_process_wrote_first(path: Path) -> None:
    """Two stores opened on an empty file with different dims: the second writer is refused."""
    with (
        SqliteStore(path, index=index()) as first,
        SqliteStore(path, index=index(dims=16)) as second,
    ):
        first.setup()
        second.setup()
        first.put(NS, "a", {"text": "first"})
        with pytest.raises(IndexConfigMismatchError):
            second.put(NS, "b", {"text": "second"})
        assert first.get(NS, "b") is None


def test_a_newer_schema_is_refused_and_the_file_untouched(path: Path) -> None:
    """A file whose store schema is newer than this code raises SchemaVersionError and is not modified."""
    with SqliteStore(path) as store:
        store.put(NS, "a", {"v": 1})
    db = Database.open(path)
    migrate(db, COMPONENT, [*MIGRATIONS, "CREATE TABLE store_future (x)"])
    db.close()
    before = digest(path)
    with SqliteStore(path) as store, pytest.raises(SchemaVersionError, match="upgrade threadloom"):
        store.get(NS, "a")
    assert digest(path) == before


def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    """Pointing the store at a text file raises DatabaseError and leaves the file alone."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 50)
    before = digest(notes)
    with pytest.raises(DatabaseError, match="not a SQLite database"):
        SqliteStore(notes)
    assert digest(notes) == before


def test_a_missing_directory_is_a_database_error(tmp_path: Path) -> None:
    """A path in a missing directory raises DatabaseError naming it."""
    with pytest.raises(DatabaseError, match="does not exist"):
        SqliteStore(tmp_path / "missing" / "store.db")


def test_setup_is_idempotent_and_explicit(path: Path) -> None:
    """setup() may run any number of times; opening alone creates no tables."""
    store = SqliteStore(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    store.setup()
    store.setup()
    store.put(NS, "a", {"v": 1})
    store.close()
    assert conn.execute("SELECT count(*) FROM store_items").fetchone()[0] == 1
    conn.close()


def test_a_closed_store_raises_a_database_error(path: Path) -> None:
    """Using a store after close() is a DatabaseError, not a crash."""
    with SqliteStore.from_conn_string(path) as store:
        store.put(NS, "a", {"v": 1})
    with pytest.raises(DatabaseError, match="closed"):
        store.get(NS, "a")


def test_a_callers_connection_is_used_and_left_open(path: Path) -> None:
    """SqliteStore(conn) works on the caller's connection and does not close it."""
    conn = sqlite3.connect(path, check_same_thread=False)
    store = SqliteStore(conn)
    store.put(NS, "a", {"v": 1})
    store.close()
    assert conn.execute("SELECT count(*) FROM store_items").fetchone()[0] == 1
    conn.close()


def test_the_ttl_sweeper_thread_deletes_expired_items_from_the_file(path: Path) -> None:
    """With sweep_interval_minutes set, a background thread deletes expired rows."""
    ttl = {"default_ttl": 0.001, "sweep_interval_minutes": 0.002}  # 60 ms, swept every 120 ms
    with SqliteStore(path, ttl=ttl) as store:  # type: ignore[arg-type]
        store.put(NS, "a", {"v": 1})
        conn = sqlite3.connect(path)
        deadline = time.monotonic() + 5
        while conn.execute("SELECT count(*) FROM store_items").fetchone()[0]:
            assert time.monotonic() < deadline, "the sweeper never ran"
            time.sleep(0.05)
        conn.close()
    assert not any(
        t.name == "threadloom-sqlite-ttl-sweeper" and t.is_alive() for t in threading.enumerate()
    )


async def test_the_async_stores_sweeper_is_started_and_stopped_with_await(path: Path) -> None:
    """AsyncSqliteStore: await start_ttl_sweeper() / stop_ttl_sweeper(), as LangGraph's."""
    from threadloom.store.sqlite.aio import AsyncSqliteStore

    ttl = {"default_ttl": 0.001, "sweep_interval_minutes": 0.002}
    async with AsyncSqliteStore.from_conn_string(path, ttl=ttl) as store:  # type: ignore[arg-type]
        await store.start_ttl_sweeper()
        await store.aput(NS, "a", {"v": 1})
        deadline = time.monotonic() + 5
        with closing(sqlite3.connect(path)) as conn:
            while conn.execute("SELECT count(*) FROM store_items").fetchone()[0]:
                assert time.monotonic() < deadline, "the sweeper never ran"
                await asyncio.sleep(0.05)
        assert await store.stop_ttl_sweeper(timeout=2) is True
    assert not any(
        t.name == "threadloom-sqlite-ttl-sweeper" and t.is_alive() for t in threading.enumerate()
    )


def test_reads_refresh_ttl_in_the_file(path: Path) -> None:
    """A get pushes the stored expiry back, so another connection sees the item live longer."""
    with SqliteStore(path) as store:
        store.put(NS, "a", {"v": 1}, ttl=10)
        conn = sqlite3.connect(path)
        (before,) = conn.execute("SELECT expires_at FROM store_items").fetchone()
        store._clock = lambda: time.time() + 60
        assert store.batch([GetOp(NS, "a")])[0] is not None
        (after,) = conn.execute("SELECT expires_at FROM store_items").fetchone()
        conn.close()
    assert after == pytest.approx(before + 60, abs=1)


# --- filters in SQL agree with the reference evaluator --------------------------------

FIELDS = ["n", "s", "b", "z", "meta.n", "meta.s", "list", "obj"]
VALUES: list[Any] = [
    0,
    1,
    2,
    2.5,
    -1,
    True,
    False,
    None,
    "a",
    "b",
    "B",
    "",
    "10",
    "é",
    [1],
    {"x": 1},
]


def random_value(rng: random.Random) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for name in ("n", "s", "b", "z", "list", "obj"):
        if rng.random() < 0.8:
            value[name] = rng.choice(VALUES)
    if rng.random() < 0.7:
        value["meta"] = {k: rng.choice(VALUES) for k in ("n", "s") if rng.random() < 0.8}
    return value


def random_condition(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(FIELDS)
    op = rng.choice(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "plain"])
    scalars = [v for v in VALUES if not isinstance(v, (list, dict))]
    if op == "plain":
        return {field: rng.choice(scalars)}
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {field: {op: rng.choice([0, 1, 2, 2.5, -1, "a", "b", "B", "", "10", "é"])}}
    if op in ("$in", "$nin"):
        return {field: {op: rng.sample(scalars, rng.randint(0, 3))}}
    if op == "$exists":
        return {field: {op: rng.choice([True, False])}}
    return {field: {op: rng.choice(scalars)}}


def random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth < 2 and roll < 0.2:
        return {"$or": [random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    if depth < 2 and roll < 0.3:
        return {"$and": [random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    merged: dict[str, Any] = {}
    for _ in range(rng.randint(1, 2)):
        merged.update(random_condition(rng))
    return merged


def test_filters_in_sql_match_the_reference_evaluator(path: Path) -> None:
    """For 400 random filters over 150 random values, SQL returns exactly what the Python evaluator accepts."""
    rng = random.Random(7)
    values = [random_value(rng) for _ in range(150)]
    with SqliteStore(path) as store:
        store.batch([PutOp(NS, f"k{i}", v) for i, v in enumerate(values)])
        pushed = 0
        for _ in range(400):
            filter = random_filter(rng)
            tree = parse_filter(filter)
            pushed += compile_where(tree) is not None
            expected = {f"k{i}" for i, v in enumerate(values) if evaluate(tree, v)}
            got = {i.key for i in store.search(NS, filter=filter, limit=1000)}
            assert got == expected, filter
        assert pushed == 400  # every one of these ran in SQL, none fell back to Python


def test_filters_sql_cannot_express_fall_back_to_python(path: Path) -> None:
    """Equality with a dict or list, and quoted keys, still filter correctly."""
    with SqliteStore(path) as store:
        store.put(NS, "a", {"obj": {"x": 1, "y": [1, 2]}, 'we"ird': 1})
        store.put(NS, "b", {"obj": {"x": 1.0, "y": [1, 2.0]}})
        store.put(NS, "c", {"obj": {"x": True}})
        assert compile_where(parse_filter({"obj": {"$eq": {"x": 1}}})) is None
        keys = [i.key for i in store.search(NS, filter={"obj": {"$eq": {"x": 1, "y": [1, 2]}}})]
        assert sorted(keys) == ["a", "b"]
        assert [i.key for i in store.search(NS, filter={'we"ird': 1})] == ["a"]
        assert [i.key for i in store.search(NS, filter={"obj": {"x": 1}}, limit=1, offset=1)] == [
            "a"
        ]


def test_the_bulk_loaded_vector_index_behaves_like_one_built_item_by_item() -> None:
    """Loading vectors in bulk gives the same searches, and stays right through later adds and removes."""
    import numpy as np

    from threadloom.store._vectors import VectorIndex, normalize_rows
    from threadloom.store.sqlite._vector_sync import add_entries

    rng = np.random.default_rng(3)
    dims = 8
    entries = []
    for i in range(300):
        prefix = f"users.u{i % 7}" + (".deep" if i % 5 == 0 else "")
        rows = normalize_rows(rng.standard_normal((1 + i % 3, dims)), dims)
        entries.append((prefix, f"k{i}", rows.tobytes()))
    bulk = VectorIndex(dims)
    add_entries(bulk, entries)
    slow = VectorIndex(dims)
    slow.add_many(
        [
            (tuple(p.split(".")), k, np.frombuffer(b, dtype=np.float32).reshape(-1, dims))
            for p, k, b in entries
        ],
        normalized=True,
    )

    def same() -> None:
        assert len(bulk) == len(slow) and bulk.rows == slow.rows
        for prefix in [(), ("users",), ("users", "u3"), ("users", "u0", "deep"), ("none",)]:
            query = rng.standard_normal(dims)
            a = bulk.search(query, prefix, limit=15, offset=2)
            b = slow.search(query, prefix, limit=15, offset=2)
            assert [(n, k) for n, k, _ in a] == [(n, k) for n, k, _ in b]
            assert np.allclose([s for *_, s in a], [s for *_, s in b])

    same()
    for i in range(0, 300, 4):
        namespace = tuple(entries[i][0].split("."))
        bulk.remove(namespace, f"k{i}")
        slow.remove(namespace, f"k{i}")
    extra = [(("users", "u9"), f"x{i}", rng.standard_normal((2, dims))) for i in range(40)]
    bulk.add_many(extra)
    slow.add_many(extra)
    same()


@pytest.mark.parametrize(
    ("damage", "found"),
    [(b"\x01\x02\x03\x04\x05", "5 bytes"), (b"\x00" * 4, "4 bytes"), ("text", "a str")],
    ids=["not floats", "not whole rows", "text"],
)
@pytest.mark.parametrize("scope", [("memories",), ()], ids=["a prefix", "everything"])
def test_damaged_stored_vectors_are_a_database_error_naming_the_item(
    path: Path, damage: Any, found: str, scope: tuple[str, ...]
) -> None:
    """Vectors bytes that are not whole rows stop the load with DatabaseError naming the
    item; the other items stay, and putting the item again repairs it."""
    with SqliteStore(path, index=index()) as store:
        store.put(NS, "good", {"text": "kept words"})
        store.put(NS, "bad", {"text": "damaged words"})
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "UPDATE store_vectors SET vectors = ? WHERE item_id = "
            "(SELECT id FROM store_items WHERE key = 'bad')",
            (damage,),
        )
        conn.commit()
    with SqliteStore(path, index=index()) as store:
        with pytest.raises(DatabaseError, match=rf"'bad'.*{found}.*damaged"):
            store.search(scope, query="words")
        with pytest.raises(DatabaseError, match=rf"'bad'.*{found}.*damaged"):
            store.dump_items(scope, vectors=True)
        assert store.get(NS, "good").value == {"text": "kept words"}
        store.put(NS, "bad", {"text": "damaged words"})
        assert {hit.key for hit in store.search(scope, query="words")} == {"good", "bad"}


def test_the_last_put_of_an_item_in_a_batch_decides_its_vectors(path: Path) -> None:
    """Within one batch, put-with-vectors then put-without (and the reverse) leave the last state on disk."""
    with SqliteStore(path, index=index()) as store:
        store.batch(
            [
                PutOp(NS, "a", {"text": "first words"}),
                PutOp(NS, "a", {"text": "no vectors"}, index=False),
                PutOp(NS, "b", {"text": "nothing"}, index=False),
                PutOp(NS, "b", {"text": "second words"}),
                PutOp(NS, "c", {"text": "third words"}),
                PutOp(NS, "c", None),
            ]
        )
    with SqliteStore(path, index=index()) as reopened:
        assert [i.key for i in reopened.search(NS, query="words")] == ["b"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM store_vectors").fetchone()[0] == 1
    conn.close()


async def test_the_async_store_opens_sets_up_sweeps_and_closes(path: Path) -> None:
    """AsyncSqliteStore.from_conn_string works as an async context manager around one file."""
    from threadloom.store.sqlite.aio import AsyncSqliteStore

    async with AsyncSqliteStore.from_conn_string(path, index=index()) as store:
        await store.setup()
        await store.aput(NS, "a", {"text": "async words"})
        await store.aput(NS, "gone", {"text": "short lived"}, ttl=0.0001)
        time.sleep(0.02)
        assert await store.sweep_ttl() == 1
        assert [i.key for i in await store.asearch(NS, query="words")] == ["a"]
    with SqliteStore(path) as sync_store:
        assert sync_store.get(NS, "a").value == {"text": "async words"}
        assert sync_store.get(NS, "gone") is None


@pytest.mark.parametrize(
    "module", ["threadloom._sqlite", "threadloom.store.sqlite", "threadloom.store.sqlite.aio"]
)
def test_the_documented_examples_run(
    module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Example block in each SQLite module's docstring runs as written."""
    import asyncio
    import importlib
    import textwrap

    monkeypatch.chdir(tmp_path)  # examples may create files in the working directory
    doc = importlib.import_module(module).__doc__ or ""
    block = doc.split("Example::", 1)[1].split("\n")[1:]
    code = textwrap.dedent("\n".join(x for x in block if x.startswith("    ") or not x.strip()))
    if "await " in code:
        code = "async def main():\n" + textwrap.indent(code, "    ") + "\nasyncio.run(main())"
    exec(code, {"asyncio": asyncio})


def test_namespaces_load_on_demand_and_stay_in_step(path: Path) -> None:
    """A reader that searched one namespace answers later searches elsewhere (and everywhere) exactly."""
    users = [("memories", f"u{i}") for i in range(4)]
    with SqliteStore(path, index=index()) as writer, SqliteStore(path, index=index()) as reader:
        for user in users:
            writer.put(user, "hobby", {"text": f"{user[1]} likes chess"})
        assert [i.namespace for i in reader.search(users[0], query="chess")] == [users[0]]
        # Changes inside and outside the loaded namespace, made by another connection.
        writer.put(users[0], "food", {"text": "u0 likes chess pie"})
        writer.delete(users[1], "hobby")
        writer.put(users[2], "hobby", {"text": "u2 likes go"})
        writer.put(("memories", "u9"), "hobby", {"text": "u9 likes chess"})
        assert {i.key for i in reader.search(users[0], query="chess")} == {"hobby", "food"}
        assert reader.search(users[1], query="chess") == []
        assert reader.search(users[2], query="chess")[0].value == {"text": "u2 likes go"}
        everywhere = reader.search(("memories",), query="chess", limit=20)
        found = {(i.namespace[1], i.key) for i in everywhere}
        assert found == {
            ("u0", "hobby"),
            ("u0", "food"),
            ("u2", "hobby"),
            ("u3", "hobby"),
            ("u9", "hobby"),
        }


def test_a_store_searching_many_namespaces_ends_up_with_every_vector(path: Path) -> None:
    """After searches in many namespaces the index holds everything, and answers stay exact."""
    from threadloom.store.sqlite._vector_sync import PREFIX_LOADS_BEFORE_ALL

    users = [("memories", f"u{i}") for i in range(PREFIX_LOADS_BEFORE_ALL + 3)]
    with SqliteStore(path, index=index()) as store:
        store.batch([PutOp(user, "k", {"text": f"{user[1]} note"}) for user in users])
    with SqliteStore(path, index=index()) as store:
        for user in users:
            assert [i.namespace for i in store.search(user, query="note")] == [user]
        vectors = store._vectors
        assert vectors is not None and vectors.covers(("anything",))
        assert len(store.search(("memories",), query="note", limit=50)) == len(users)


def test_an_expired_item_is_skipped_and_the_page_still_fills(path: Path) -> None:
    """A semantic search passes over an expired (not yet swept) item and returns the next best instead."""
    with SqliteStore(path, index=index()) as store:
        store.put(NS, "best", {"text": "red apple"}, ttl=0.0001)
        store.put(NS, "second", {"text": "red apple pie"})
        store.put(NS, "third", {"text": "apple"})
        time.sleep(0.02)
        assert [i.key for i in store.search(NS, query="red apple", limit=2)] == ["second", "third"]


# --- the keyword index ------------------------------------------------------------


def _fts_consistent(store: SqliteStore) -> tuple[int, int]:
    """The keyword index's row count and indexed item count, after FTS5's own integrity check."""

    def check(conn: sqlite3.Connection) -> tuple[int, int]:
        conn.execute("INSERT INTO store_fts (store_fts) VALUES ('integrity-check')")
        rows, items = conn.execute(
            "SELECT count(*), count(DISTINCT item_id) FROM store_texts"
        ).fetchone()
        return int(rows), int(items)

    return store._db.read(check)


def _keyword_live(store: SqliteStore) -> bool:
    return store._db.read(keyword_index_live)


def test_keyword_rows_follow_puts_deletes_namespaces_and_sweeps(path: Path) -> None:
    """Once the index is live, an item's text and FTS5 rows leave with it, however it goes."""
    with SqliteStore(path, index={**index(), "search_mode": "hybrid"}) as store:
        store.put(NS, "a", {"text": "pizza night"})
        store.put(NS, "b", {"text": "pizza"}, ttl=0.001)
        store.put(("memories", "u2"), "c", {"text": "pizza"})
        store.put(NS, "d", {"text": "x", "more": "pizza"}, index=["text", "more"])
        assert _fts_consistent(store) == (5, 4)
        store.put(NS, "a", {"text": "pizza"}, index=False)
        store.delete(NS, "d")
        assert _fts_consistent(store) == (2, 2)
        time.sleep(0.15)
        assert store.sweep_ttl() == 1
        assert store.delete_namespace(("memories",)) == 2  # "a" (unindexed now) and "c"
        assert _fts_consistent(store) == (0, 0)


def _put_mixed(store: SqliteStore) -> None:
    store.put(NS, "a", {"text": "pizza night"})
    store.put(NS, "b", {"text": "tea", "more": "pizza oven"}, index=["text", "more"])
    store.put(NS, "c", {"text": "pizza never indexed"}, index=False)
    store.put(("memories", "u2"), "d", {"text": "a pizza for two"})
    store.put(NS, "e", {"text": "first words"})
    store.put(NS, "e", {"text": "pizza replaced them"})
    store.delete(NS, "a")


def _max_text_id(store: SqliteStore) -> Any:
    return store._db.read(lambda c: c.execute("SELECT max(id) FROM store_texts").fetchone()[0])


@pytest.fixture
def quiet_filler(monkeypatch: pytest.MonkeyPatch) -> None:
    """The keyword filler waits for a pause in puts longer than any test: only the catch-up
    at setup and the one a keyword search makes happen."""
    monkeypatch.setattr(keyword_fill, "QUIET_S", 60.0)


def _wait_for_filler(store: SqliteStore) -> None:
    assert store._filler is not None and store._filler.wait_idle(10)


def _eager_results(path: Path) -> list[tuple[tuple[str, ...], str, float]]:
    """What a store that kept the keyword index from the start finds for "pizza"."""
    with SqliteStore(path, index={**index(), "search_mode": "hybrid"}) as eager:
        eager.setup()
        assert _keyword_live(eager)  # built (empty) by setup, before any put
        _put_mixed(eager)
        return [
            (h.namespace, h.key, h.score)
            for h in eager.search(("memories",), query="pizza", mode="keyword")
        ]


@pytest.mark.usefixtures("quiet_filler")
def test_a_vector_store_writes_no_keyword_rows_on_put_and_a_search_indexes_only_the_latest(
    path: Path,
) -> None:
    """With search_mode "vector", puts write no keyword rows; a keyword search indexes the
    items put since the last catch-up (from the paths recorded at their put) and answers as a
    store that kept the index from the start; the index never goes live."""
    expected = _eager_results(path.with_name("eager.db"))
    with SqliteStore(path, index=index()) as lazy:
        lazy.setup()
        _wait_for_filler(lazy)
        _put_mixed(lazy)
        assert not _keyword_live(lazy)
        assert _fts_consistent(lazy) == (0, 0)
        found = [
            (h.namespace, h.key, h.score)
            for h in lazy.search(("memories",), query="pizza", mode="keyword")
        ]
        assert not _keyword_live(lazy)
        assert _fts_consistent(lazy) == (4, 3)  # b twice (text, more), d, e
        built = _max_text_id(lazy)
        lazy.search(NS, query="pizza", mode="hybrid")
        assert _max_text_id(lazy) == built  # nothing new to index
        lazy.put(NS, "f", {"text": "pizza later"})
        assert _max_text_id(lazy) == built  # the put wrote no keyword rows
        assert [h.key for h in lazy.search(NS, query="later", mode="keyword")] == ["f"]
        lazy.put(NS, "f", {"text": "pizza sooner"})  # its old rows are stale now
        assert lazy.search(NS, query="later", mode="keyword") == []
        assert [h.key for h in lazy.search(NS, query="sooner", mode="keyword")] == ["f"]
    assert found == expected
    assert {key for _, key, _ in found} == {"b", "d", "e"}


def test_setup_of_a_vector_store_indexes_the_file_in_the_background(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup() of a "vector" store indexes a file's items off the request path, so its first
    keyword search builds nothing; later puts are indexed once they pause."""
    expected = _eager_results(path.with_name("eager.db"))
    monkeypatch.setattr(keyword_fill, "QUIET_S", 60.0)
    with SqliteStore(path, index=index()) as first:
        _put_mixed(first)
    with closing(sqlite3.connect(path)) as conn, conn:
        # As a file written before the catch-up existed: no record of one.
        conn.execute("DELETE FROM store_meta WHERE name = 'keyword_seq'")
    assert _fts_rows(path) == 0
    monkeypatch.setattr(keyword_fill, "QUIET_S", 0.01)
    with SqliteStore(path, index=index()) as store:
        store.setup()
        _wait_for_filler(store)
        assert _fts_consistent(store) == (4, 3)
        built = _max_text_id(store)
        found = [
            (h.namespace, h.key, h.score)
            for h in store.search(("memories",), query="pizza", mode="keyword")
        ]
        assert _max_text_id(store) == built  # the search built nothing
        store.put(NS, "g", {"text": "pizza again"})
        _wait_for_filler(store)
        assert _max_text_id(store) > built  # indexed by the filler, after the put
        assert not _keyword_live(store)
    assert found == expected


def _fts_rows(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM store_texts").fetchone()[0])


def test_a_file_caught_up_by_a_vector_store_goes_live_for_a_keyword_store(path: Path) -> None:
    """A "hybrid" store opening a file whose rows a "vector" store kept caught up indexes only
    what is missing and makes the index live; the vector store then keeps rows on put."""
    with SqliteStore(path, index=index()) as vector:
        _put_mixed(vector)
        vector.search(NS, query="pizza", mode="keyword")  # caught up to here
        vector.put(NS, "h", {"text": "pizza after"})
        with SqliteStore(path, index={**index(), "search_mode": "hybrid"}) as hybrid:
            hybrid.setup()
            assert _keyword_live(hybrid)
            assert _fts_consistent(hybrid) == (5, 4)
        vector.put(NS, "i", {"text": "pizza live"})
        assert _fts_consistent(vector) == (6, 5)
        assert {h.key for h in vector.search(NS, query="pizza", mode="keyword")} == {
            "b",
            "e",
            "h",
            "i",
        }


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_setup_builds_the_keyword_index_of_a_store_searching_by_keywords(
    path: Path, mode: str
) -> None:
    """search_mode "keyword"/"hybrid": setup() indexes the items of a file without a keyword
    index, so no search pays for the build."""
    with SqliteStore(path, index=index()) as first:
        _put_mixed(first)
        assert not _keyword_live(first)
    config = {"fields": ["text"]} if mode == "keyword" else {**index(), "search_mode": mode}
    with SqliteStore(path, index=config) as store:  # type: ignore[arg-type]
        store.setup()
        assert _keyword_live(store)
        assert _fts_consistent(store) == (4, 3)
        built = _max_text_id(store)
        assert {h.key for h in store.search(("memories",), query="pizza", mode="keyword")} == {
            "b",
            "d",
            "e",
        }
        assert _max_text_id(store) == built  # the search built nothing


@pytest.mark.usefixtures("quiet_filler")
def test_the_first_operation_runs_setup_and_its_keyword_build(path: Path) -> None:
    """Without an explicit setup(), the first operation runs it, keyword build included for
    a hybrid store, and not for a vector one."""
    with SqliteStore(path, index={**index(), "search_mode": "hybrid"}) as store:
        store.put(NS, "a", {"text": "zucchini soup"})
        assert _keyword_live(store)
        assert _fts_consistent(store) == (1, 1)
        assert [h.key for h in store.search(NS, query="zucchini", mode="keyword")] == ["a"]
    with SqliteStore(other := path.with_name("vector.db"), index=index()) as vector:
        vector.put(NS, "a", {"text": "zucchini soup"})
        assert not _keyword_live(vector)
        assert _fts_consistent(vector) == (0, 0)
    assert other.exists()


async def test_an_async_keyword_search_builds_the_index(path: Path) -> None:
    from threadloom.store.sqlite.aio import AsyncSqliteStore

    async with AsyncSqliteStore.from_conn_string(path, index=index()) as store:
        await store.aput(NS, "a", {"text": "zucchini soup"})
        assert _fts_consistent(store.store) == (0, 0)
        assert [h.key for h in await store.asearch(NS, query="zucchini", mode="keyword")] == ["a"]
        assert _fts_consistent(store.store) == (1, 1)


def test_a_writer_keeps_the_index_another_process_built(path: Path) -> None:
    """The live flag is read inside each write: a vector-only writer that opened before the
    index was built still indexes its later puts."""
    with SqliteStore(path, index=index()) as writer, SqliteStore(path, index=index()) as reader:
        writer.put(NS, "a", {"text": "zucchini"})
        assert [h.key for h in reader.search(NS, query="zucchini", mode="keyword")] == ["a"]
        writer.put(NS, "b", {"text": "eggplant"})
        writer.put(NS, "a", {"text": "carrot"})
        assert [h.key for h in reader.search(NS, query="eggplant", mode="keyword")] == ["b"]
        assert reader.search(NS, query="zucchini", mode="keyword") == []
        assert _fts_consistent(reader) == (2, 2)


def test_a_store_without_keyword_fields_clears_rows_it_replaces(path: Path) -> None:
    """A plain store (no index) re-putting an item leaves no stale keyword rows behind."""
    with SqliteStore(path, index={**index(), "search_mode": "hybrid"}) as store:
        store.put(NS, "a", {"text": "zucchini"})
        with SqliteStore(path) as plain:
            plain.put(NS, "a", {"text": "carrot"})
        assert store.search(NS, query="zucchini", mode="keyword") == []
        assert _fts_consistent(store) == (0, 0)


def test_a_keyword_search_sees_what_another_connection_committed(path: Path) -> None:
    """Keyword rows live in the file: another store's writes show at once."""
    with SqliteStore(path, index=index()) as writer, SqliteStore(path, index=index()) as reader:
        writer.put(NS, "a", {"text": "zucchini"})
        assert [h.key for h in reader.search(NS, query="zucchini", mode="keyword")] == ["a"]
        writer.put(NS, "a", {"text": "eggplant"})
        assert reader.search(NS, query="zucchini", mode="hybrid")[0].score is not None
        assert reader.search(NS, query="zucchini", mode="keyword") == []


def _version_1_file(path: Path) -> None:
    db = Database.open(path)
    migrate(db, COMPONENT, MIGRATIONS[:1])
    db.write(
        lambda conn: conn.executemany(
            "INSERT INTO store_items (prefix, key, value, created_at, updated_at, seq) "
            "VALUES ('memories.u1', ?, ?, '2026-01-01T00:00:00+00:00', "
            "'2026-01-01T00:00:00+00:00', ?)",
            [("a", '{"text": "zucchini soup"}', 1), ("b", '{"text": "carrot"}', 2)],
        )
    )
    db.close()


def test_a_file_from_before_the_keyword_index_gets_one(path: Path) -> None:
    """Items written by schema version 1 are keyword-indexed when a search first needs them."""
    _version_1_file(path)
    with SqliteStore(path) as plain:
        plain.setup()  # no index: nothing to build the keyword rows from yet
    with SqliteStore(path, index={"fields": ["text"]}) as store:
        assert [h.key for h in store.search(NS, query="zucchini")] == ["a"]
        assert _fts_consistent(store) == (2, 2)
    with SqliteStore(path, index={"fields": ["text"]}) as again:
        again.setup()
        assert [h.key for h in again.search(NS, query="carrot")] == ["b"]
        assert _fts_consistent(again) == (2, 2)  # built once


def test_a_version_2_file_with_keyword_rows_stays_live(path: Path) -> None:
    """Upgrading a file whose items all have keyword rows keeps them live; nothing is rebuilt."""
    db = Database.open(path)
    migrate(db, COMPONENT, MIGRATIONS[:2])

    def version_2_put(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO store_items (id, prefix, key, value, created_at, updated_at, seq) "
            "VALUES (7, 'memories.u1', 'a', '{\"text\": \"zucchini\"}', "
            "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 1)"
        )
        conn.execute(
            "INSERT INTO store_texts (id, item_id, prefix, key, scope, body, length) "
            "VALUES (3, 7, 'memories.u1', 'a', ?, 'zucchini', 1)",
            (scope_tokens(NS),),
        )

    db.write(version_2_put)
    db.close()
    with SqliteStore(path, index={"fields": ["text"]}) as store:
        store.setup()
        assert _keyword_live(store)
        assert [h.key for h in store.search(NS, query="zucchini")] == ["a"]
        assert store._db.read(lambda c: c.execute("SELECT id FROM store_texts").fetchall()) == [
            (3,)
        ]


def test_fts_syntax_in_queries_never_reaches_sqlite_as_syntax(path: Path) -> None:
    """Quotes, stars, NEAR, column filters and SQL comments in a query are just words."""
    with SqliteStore(path, index=index()) as store:
        store.put(NS, "a", {"text": "near the body of text"})
        for query in ["body:text", 'NEAR("text" body, 2)', '"text', "text*", "text' OR 1=1 --"]:
            assert [h.key for h in store.search(NS, query=query, mode="keyword")] == ["a"]


def test_the_in_process_keyword_index_answers_as_fts5_does(path: Path) -> None:
    """Unfiltered keyword and hybrid searches (the in-process index) rank and score as the
    FTS5 path (taken with a filter every item passes), through puts, deletes and another
    connection's writes."""

    def both(store: SqliteStore, mode: str) -> tuple[list[Any], list[Any]]:
        fast = store.search(("memories",), query="pizza oven night", mode=mode, limit=20)
        slow = store.search(
            ("memories",),
            query="pizza oven night",
            mode=mode,
            limit=20,
            filter={"n": {"$exists": True}},
        )
        return [(h.key, h.score) for h in fast], [(h.key, h.score) for h in slow]

    with SqliteStore(path, index=index()) as store, SqliteStore(path, index=index()) as other:
        store.setup()
        for i, text in enumerate(["pizza night", "oven", "pizza pizza oven", "tea", "night owl"]):
            store.put(("memories", f"u{i % 2}"), f"k{i}", {"text": text, "n": i})
        fast, slow = both(store, "keyword")
        assert fast == slow and len(fast) == 4
        other.put(NS, "late", {"text": "a pizza oven at night", "n": 9})
        store.delete(("memories", "u0"), "k0")
        fast, slow = both(store, "keyword")
        assert fast == slow and fast[0][0] == "late" and "k0" not in dict(fast)
        assert both(store, "hybrid")[0] == both(store, "hybrid")[1]
