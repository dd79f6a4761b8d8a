"""SQLite files that are not threadloom's alone, damaged, or full: refused or reported, never harmed."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from threadloom._sqlite import THREADLOOM_TABLES, foreign_tables
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.checkpoint.sqlite.aio import AsyncSqliteSaver
from threadloom.errors import DatabaseError, ForeignDatabaseError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.store.base import PutOp
from threadloom.store.sqlite import SqliteStore
from threadloom.store.sqlite.aio import AsyncSqliteStore
from threadloom.testing.embeddings import HashingEmbed

NS = ("memories", "u1")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def other_apps_db(path: Path, *, wal: bool = False) -> Path:
    """A database another application made: a table ``t`` with rows (and an index)."""
    with closing(sqlite3.connect(path)) as conn:
        if wal:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE INDEX t_name ON t (name)")
        conn.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",)])
        conn.commit()
    return path


def tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows]


async def _open_async_store(path: Path, **kw: Any) -> None:
    async with AsyncSqliteStore.from_conn_string(path, **kw) as store:
        await store.setup()


async def _open_async_saver(path: Path, **kw: Any) -> None:
    async with AsyncSqliteSaver.from_conn_string(path, **kw) as saver:
        await saver.asetup()


def _store_from_conn_string(path: Path, **kw: Any) -> None:
    with SqliteStore.from_conn_string(path, **kw) as store:
        store.setup()


def _saver_from_conn_string(path: Path, **kw: Any) -> None:
    with SqliteSaver.from_conn_string(path, **kw) as saver:
        saver.setup()


def _store_on_a_path(path: Path, **kw: Any) -> None:
    store = SqliteStore(path, **kw)
    store.setup()
    store.close()


def _async_store_on_a_path(path: Path, **kw: Any) -> None:
    store = AsyncSqliteStore(path, **kw)
    store.store.setup()
    store.store.close()


def _saver_on_a_path(path: Path, **kw: Any) -> None:
    saver = SqliteSaver(path, **kw)
    saver.setup()
    saver.close()


def _store_on_a_connection(path: Path, **kw: Any) -> None:
    with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
        SqliteStore(conn, **kw).setup()


def _saver_on_a_connection(path: Path, **kw: Any) -> None:
    with closing(sqlite3.connect(path, check_same_thread=False)) as conn:
        SqliteSaver(conn, **kw).setup()


OPENERS: dict[str, Callable[..., Any]] = {
    "SqliteStore(path)": _store_on_a_path,
    "SqliteStore.from_conn_string": _store_from_conn_string,
    "SqliteStore(connection)": _store_on_a_connection,
    "AsyncSqliteStore(path)": _async_store_on_a_path,
    "AsyncSqliteStore.from_conn_string": lambda path, **kw: asyncio.run(
        _open_async_store(path, **kw)
    ),
    "SqliteSaver(path)": _saver_on_a_path,
    "SqliteSaver.from_conn_string": _saver_from_conn_string,
    "SqliteSaver(connection)": _saver_on_a_connection,
    "AsyncSqliteSaver.from_conn_string": lambda path, **kw: asyncio.run(
        _open_async_saver(path, **kw)
    ),
}


# --- another application's database ---------------------------------------------


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
@pytest.mark.parametrize("opener", list(OPENERS))
def test_another_applications_database_is_refused_and_untouched(
    tmp_path: Path, opener: str, wal: bool
) -> None:
    """Every SQLite entry point refuses a file with foreign tables, naming file and tables;
    the file's bytes stay exactly as they were."""
    path = other_apps_db(tmp_path / "other.db", wal=wal)
    before = digest(path)
    with pytest.raises(ForeignDatabaseError) as raised:
        OPENERS[opener](path)
    message = str(raised.value)
    assert str(path) in message and "'t'" in message and "allow_foreign_tables" in message
    assert isinstance(raised.value, DatabaseError)
    assert digest(path) == before
    assert tables(path) == ["t"]


@pytest.mark.parametrize("opener", list(OPENERS))
def test_sharing_a_database_is_allowed_when_asked_for(tmp_path: Path, opener: str) -> None:
    """allow_foreign_tables=True opens the file; the other application's rows stay intact."""
    path = other_apps_db(tmp_path / "other.db")
    OPENERS[opener](path, allow_foreign_tables=True)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM t ORDER BY id").fetchall() == [("a",), ("b",)]
    assert "threadloom_migrations" in tables(path)


def test_a_table_added_to_a_threadloom_file_makes_it_foreign(tmp_path: Path) -> None:
    """A threadloom file to which another program added a table is refused as well."""
    path = tmp_path / "mine.db"
    with SqliteStore.from_conn_string(path) as store:
        store.put(NS, "k", {"v": 1})
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE VIEW recent AS SELECT key FROM store_items")
        conn.execute("CREATE TABLE zz_audit (x)")
        conn.commit()
    with pytest.raises(ForeignDatabaseError, match=r"'recent', 'zz_audit'"):
        SqliteStore(path)
    with SqliteStore.from_conn_string(path, allow_foreign_tables=True) as store:
        assert store.get(NS, "k") is not None


def test_tables_named_like_threadloom_s_are_foreign_in_a_file_it_never_set_up(
    tmp_path: Path,
) -> None:
    """A shop's `store_items` and `store_products` are not ours: threadloom never set the file up."""
    path = tmp_path / "shop.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE store_items (sku TEXT)")
        conn.execute("CREATE TABLE store_products (sku TEXT)")
        conn.commit()
    before = digest(path)
    with pytest.raises(ForeignDatabaseError, match=r"'store_items', 'store_products'"):
        SqliteStore(path)
    assert digest(path) == before


def test_threadloom_files_and_new_files_open_without_opting_in(tmp_path: Path) -> None:
    """A new file, an empty file and a file threadloom set up open as before."""
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (tmp_path / "new.db", empty):
        with SqliteStore.from_conn_string(path) as store:
            store.put(NS, "k", {"v": 1})
        with SqliteSaver.from_conn_string(path):
            pass
        with SqliteStore.from_conn_string(path) as store:
            assert store.get(NS, "k") is not None


def test_the_list_of_threadloom_tables_is_exactly_what_the_components_create(
    tmp_path: Path,
) -> None:
    """Store (vectors and keyword index) and checkpointer set up on one file create
    exactly THREADLOOM_TABLES; none of them counts as foreign."""
    path = tmp_path / "all.db"
    index = {"dims": 8, "embed": HashingEmbed(8), "fields": ["text"], "search_mode": "hybrid"}
    with SqliteStore.from_conn_string(path, index=index) as store:  # type: ignore[arg-type]
        store.setup()
        store.put(NS, "k", {"text": "hello"})
        assert store.search(NS, query="hello", mode="keyword")
    with SqliteSaver.from_conn_string(path):
        pass
    assert set(tables(path)) == THREADLOOM_TABLES
    with closing(sqlite3.connect(path)) as conn:
        assert foreign_tables(conn) == []
        conn.execute("CREATE TABLE threadloom_later (x)")
        assert foreign_tables(conn) == []


# --- damaged files ----------------------------------------------------------------


def _damage_table(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with garbage (the WAL is checkpointed first)."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(bytes([0xA5]) * page_size)


def _threadloom_file(path: Path) -> Path:
    with SqliteStore.from_conn_string(path) as store:
        store.batch([PutOp(NS, f"k{i}", {"text": "x" * 200, "i": i}) for i in range(200)])
    return path


def test_corrupt_pages_are_a_database_error_naming_the_file(tmp_path: Path) -> None:
    """Reading or writing a damaged table, and verify(), raise DatabaseError naming the file;
    a write that met the damage keeps nothing."""
    path = _threadloom_file(tmp_path / "damaged.db")
    _damage_table(path, "store_items")
    before = digest(path)
    with SqliteStore.from_conn_string(path) as store:
        with pytest.raises(DatabaseError, match="damaged") as raised:
            store.search(NS, limit=500)
        assert str(path) in str(raised.value)
        with pytest.raises(DatabaseError, match=str(path)):
            store.put(NS, "new", {"v": 1})
        with pytest.raises(DatabaseError, match="damaged") as raised:
            store.verify()
        assert str(path) in str(raised.value)
    assert digest(path) == before


def test_a_damaged_schema_page_is_reported_when_the_file_is_opened(tmp_path: Path) -> None:
    """Garbage in the first page's schema: DatabaseError naming the file, at open."""
    path = _threadloom_file(tmp_path / "damaged.db")
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:1000] = bytes([0x5A]) * 900  # the b-tree of sqlite_master, after the header
    path.write_bytes(bytes(data))
    for opener in (lambda: SqliteStore(path), lambda: SqliteSaver(path)):
        with pytest.raises(DatabaseError) as raised:
            opener()
        assert str(path) in str(raised.value)
    assert path.read_bytes() == bytes(data)


def test_verify_passes_on_a_sound_file(tmp_path: Path) -> None:
    """verify() is silent on a healthy file, for the store and the checkpointer."""
    path = _threadloom_file(tmp_path / "fine.db")
    with SqliteStore.from_conn_string(path) as store:
        store.verify()
    with SqliteSaver.from_conn_string(path) as saver:
        saver.verify()


# --- a full disk ---------------------------------------------------------------------


def _capped_connection(path: Path, spare_pages: int) -> sqlite3.Connection:
    """A caller's connection whose file may grow by only ``spare_pages`` pages (a full disk)."""
    conn = sqlite3.connect(path, check_same_thread=False)
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")
    return conn


def test_a_full_disk_is_a_database_error_and_the_batch_keeps_nothing(tmp_path: Path) -> None:
    """When the file cannot grow, a put raises DatabaseError naming the file; none of the
    batch is kept, earlier items are intact, and writes work again once there is room."""
    path = _threadloom_file(tmp_path / "full.db")
    conn = _capped_connection(path, spare_pages=4)
    store = SqliteStore(conn)
    big = [PutOp(NS, f"big{i}", {"text": "y" * 4000}) for i in range(50)]
    with pytest.raises(DatabaseError, match="full") as raised:
        store.batch(big)
    assert str(path) in str(raised.value)
    assert not isinstance(raised.value, sqlite3.Error)
    assert store.search(NS, filter={"text": "y" * 4000}) == []
    assert len(store.search(NS, limit=1000)) == 200
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.execute("PRAGMA max_page_count = 1000000")
    store.batch(big)
    assert len(store.search(NS, limit=1000)) == 250
    store.close()
    conn.close()


def test_a_full_disk_is_a_database_error_for_the_checkpointer(tmp_path: Path) -> None:
    """A turn that cannot be saved raises DatabaseError naming the file; the thread keeps
    its last saved state, and the next turn saves once there is room."""
    path = tmp_path / "threads.db"
    with SqliteSaver.from_conn_string(path):
        pass

    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("ai", "ok " + "z" * 3000)]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    conn = _capped_connection(path, spare_pages=6)
    graph = builder.compile(checkpointer=SqliteSaver(conn))
    config = {"configurable": {"thread_id": "t"}}
    saved = 0
    with pytest.raises(DatabaseError, match="full") as raised:
        for turn in range(200):
            graph.invoke({"messages": [("user", f"turn {turn} " + "w" * 3000)]}, config)
            saved = turn + 1
    assert str(path) in str(raised.value)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    state = graph.get_state(config)
    humans = [m for m in state.values["messages"] if m.type == "human"]
    assert saved <= len(humans) <= saved + 1
    conn.execute("PRAGMA max_page_count = 1000000")
    graph.invoke({"messages": [("user", "after")]}, config)
    assert graph.get_state(config).values["messages"][-2].content == "after"
    conn.close()
