"""SqliteSaver and AsyncSqliteSaver: the conformance suite on real files, plus durability and bad files."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from threadloom.checkpoint.base import DeltaValue
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.checkpoint.sqlite.aio import AsyncSqliteSaver
from threadloom.errors import DatabaseError, SchemaVersionError
from threadloom.testing.checkpoint import (
    CheckpointerConformance,
    SharedCheckpointerConformance,
    make_checkpoint,
    thread,
)


class TestSqliteSaver(SharedCheckpointerConformance):
    """SqliteSaver on a file passes the checkpointer conformance suite, processes included."""

    @pytest.fixture
    def saver(self, tmp_path: Path) -> Iterator[SqliteSaver]:
        with SqliteSaver.from_conn_string(tmp_path / "checkpoints.db") as saver:
            yield saver

    @pytest.fixture
    def saver_opener(self, tmp_path: Path) -> Callable[[], Any]:
        return partial(SqliteSaver.from_conn_string, str(tmp_path / "checkpoints.db"))


class TestSqliteSaverInMemory(CheckpointerConformance):
    """SqliteSaver built on a caller's sqlite3 connection to ":memory:" passes the suite."""

    @pytest.fixture
    def saver(self) -> Iterator[SqliteSaver]:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        yield SqliteSaver(conn)
        conn.close()


class TestAsyncSqliteSaver(SharedCheckpointerConformance):
    """AsyncSqliteSaver opened with `async with` passes the suite through its async methods."""

    flavours = ("async",)

    @pytest.fixture
    async def saver(self, tmp_path: Path) -> AsyncIterator[AsyncSqliteSaver]:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "checkpoints.db")) as saver:
            yield saver

    @pytest.fixture
    def saver_opener(self, tmp_path: Path) -> Callable[[], Any]:
        return partial(AsyncSqliteSaver.from_conn_string, str(tmp_path / "checkpoints.db"))


def test_checkpoints_survive_reopening_the_file(tmp_path: Path) -> None:
    """A checkpoint put before closing the file reads back after reopening it, delta chain included."""
    path = tmp_path / "state.db"
    with SqliteSaver.from_conn_string(path) as saver:
        v1 = saver.get_next_version(None)
        c1 = saver.put(thread("t"), make_checkpoint({"m": [HumanMessage("a", id="1")]}, {"m": v1}), {}, {"m": v1})
        v2 = saver.get_next_version(v1)
        delta = DeltaValue(v1, ([HumanMessage("b", id="2")],))
        saver.put(c1, make_checkpoint({"m": delta}, {"m": v2}), {}, {"m": v2})
    with SqliteSaver.from_conn_string(path) as saver:
        got = saver.get_tuple(thread("t"))
        assert got is not None
        value = got.checkpoint["channel_values"]["m"]
        assert value == [HumanMessage("a", id="1"), HumanMessage("b", id="2")]
        assert value.chain.snapshot == [HumanMessage("a", id="1")]
        assert value.chain.writes == ([HumanMessage("b", id="2")],)


def test_setup_is_idempotent_and_records_its_version(tmp_path: Path) -> None:
    """setup() can run any number of times; the schema version is recorded in the file."""
    path = tmp_path / "state.db"
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
        saver.setup()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM threadloom_migrations WHERE component = 'checkpoint'").fetchone() == (2,)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_a_turn_writes_only_the_changed_channels(tmp_path: Path) -> None:
    """A checkpoint stores rows only for channels in new_versions; a delta stores only its writes."""
    path = tmp_path / "state.db"
    history = [HumanMessage("x" * 1000, id=str(i)) for i in range(100)]
    with SqliteSaver.from_conn_string(path) as saver:
        v = saver.get_next_version(None)
        config = saver.put(thread("t"), make_checkpoint({"m": history, "big": "y" * 10_000}, {"m": v, "big": v}), {}, {"m": v, "big": v})
        v2 = saver.get_next_version(v)
        delta = DeltaValue(v, ([HumanMessage("new", id="new")],))
        saver.put(config, make_checkpoint({"m": delta, "big": "y" * 10_000}, {"m": v2, "big": v}), {}, {"m": v2})
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT channel, kind, length(data) FROM checkpoint_blobs").fetchall()
    conn.close()
    assert sorted((c, k) for c, k, _ in rows) == [("big", "full"), ("m", "delta"), ("m", "full")]
    assert next(n for c, k, n in rows if k == "delta") < 300


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A path in a directory that does not exist raises DatabaseError naming it, creating nothing."""
    path = tmp_path / "nope" / "state.db"
    with pytest.raises(DatabaseError, match="does not exist"), SqliteSaver.from_conn_string(path):
        pass
    assert not (tmp_path / "nope").exists()


def _open_read_only_dir_as_user(directory: Path) -> str:
    """Try to open a saver in ``directory``; returns the error's class and message."""
    try:
        with SqliteSaver.from_conn_string(directory / "state.db"):
            return "opened"
    except DatabaseError as e:
        return f"DatabaseError: {e}"


def test_read_only_directory_is_a_clear_error() -> None:
    """A path in a read-only directory raises DatabaseError saying so, and creates nothing."""
    locked = Path(tempfile.mkdtemp(prefix="tl-readonly-", dir="/tmp"))
    try:
        locked.chmod(0o555)
        if os.geteuid() != 0:
            outcome = _open_read_only_dir_as_user(locked)
        else:
            # root may write anywhere: check as an unprivileged user in a forked child.
            receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                try:
                    os.setgid(65534)
                    os.setuid(65534)
                    send.send(_open_read_only_dir_as_user(locked))
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            outcome = receive.recv()
        assert outcome.startswith("DatabaseError") and "not writable" in outcome
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)
        shutil.rmtree(locked)


def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path: Path) -> None:
    """Opening a text file raises DatabaseError and leaves its bytes as they were."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"my precious notes\n" * 100)
    with pytest.raises(DatabaseError, match="not a SQLite database"), SqliteSaver.from_conn_string(path):
        pass
    assert path.read_bytes() == b"my precious notes\n" * 100


def test_a_newer_schema_is_refused_and_the_file_untouched(tmp_path: Path) -> None:
    """A file whose checkpoint schema is newer than this version raises SchemaVersionError; nothing changes."""
    path = tmp_path / "state.db"
    with SqliteSaver.from_conn_string(path) as saver:
        saver.put(thread("t"), make_checkpoint({"n": 1}, {"n": 1}), {}, {"n": 1})
    conn = sqlite3.connect(path)
    conn.execute("UPDATE threadloom_migrations SET version = 99 WHERE component = 'checkpoint'")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match="99"), SqliteSaver.from_conn_string(path):
        pass
    assert path.read_bytes() == before


async def test_async_saver_reports_bad_paths_too(tmp_path: Path) -> None:
    """AsyncSqliteSaver.from_conn_string raises DatabaseError for a missing directory."""
    with pytest.raises(DatabaseError):
        async with AsyncSqliteSaver.from_conn_string(tmp_path / "nope" / "x.db"):
            pass


def test_two_savers_on_one_file_see_each_others_checkpoints(tmp_path: Path) -> None:
    """Two connections to one file (as two processes would have) share threads."""
    path = tmp_path / "shared.db"
    with SqliteSaver.from_conn_string(path) as first, SqliteSaver.from_conn_string(path) as second:
        config = first.put(thread("t"), make_checkpoint({"n": 1}, {"n": 1}), {}, {"n": 1})
        assert second.peek_latest(thread("t")) == (config["configurable"]["checkpoint_id"], False)
        second.put_writes(config, [("n", 2)], "task")
        assert first.peek_latest(thread("t")) == (config["configurable"]["checkpoint_id"], True)


def test_a_path_opens_the_file(tmp_path: Path) -> None:
    """SqliteSaver(path) opens the file itself, as SqliteStore(path) does."""
    saver = SqliteSaver(str(tmp_path / "by-path.db"))
    try:
        assert saver.get_tuple({"configurable": {"thread_id": "t"}}) is None
    finally:
        saver.close()
    assert (tmp_path / "by-path.db").exists()


@pytest.mark.parametrize("key", ["access') = 'public' OR '1'='1", "a b", 'say"hi', "semi;colon"])
def test_a_filter_key_outside_letters_digits_dot_dash_underscore_is_refused(key: str) -> None:
    """As LangGraph's SQLite saver: list(filter=...) with such a key is a ValueError naming it."""
    with SqliteSaver.from_conn_string(":memory:") as saver:
        saver.put(thread("t"), make_checkpoint({"n": 1}, {"n": 1}), {"access": "public"}, {"n": 1})
        with pytest.raises(ValueError, match="Invalid filter key"):
            list(saver.list(None, filter={key: "public"}))
        assert len(list(saver.list(None, filter={"access": "public"}))) == 1
