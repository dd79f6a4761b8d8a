"""`migrate` on a SQLite file that the real LangGraph wrote: the threadloom copy behaves the same."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _apps import (
    THREADS,
    build,
    build_parallel,
    config,
    file_digest,
    history,
    history_apart_from_input_next,
    items,
    langgraph_sqlite,
    state,
)

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.migrate import migrate
from threadloom.store.sqlite import SqliteStore
from threadloom.types import Command


@dataclass
class Source:
    path: Path
    histories: dict[str, list[Any]]
    full_histories: dict[str, list[Any]]
    states: dict[str, Any]
    items: dict[Any, Any]
    checkpoints: int


@pytest.fixture
def source(tmp_path: Path) -> Source:
    """A LangGraph SQLite file: three threads (done, paused, forked) and a store without vectors."""
    path = tmp_path / "langgraph.db"
    with langgraph_sqlite(path) as (graph, store, conn):
        result = Source(
            path,
            {t: history_apart_from_input_next(graph, t) for t in THREADS},
            {t: history(graph, t) for t in THREADS},
            {t: state(graph, t) for t in THREADS},
            items(store),
            conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0],
        )
    return result


@contextmanager
def opened(path: Path) -> Iterator[Any]:
    """The migrated file, opened with threadloom: the same app on it."""
    with (
        SqliteSaver.from_conn_string(str(path)) as saver,
        SqliteStore.from_conn_string(str(path)) as store,
    ):
        yield build("threadloom", saver, store), saver, store


def _sorted(found: dict[Any, Any]) -> dict[Any, Any]:
    return {ns: sorted(pairs) for ns, pairs in found.items()}


def test_history_state_and_items_match_langgraph(source: Source, tmp_path: Path) -> None:
    """Every thread's history (ids, parents, metadata, next, values) and the store come across."""
    target = tmp_path / "threadloom.db"
    report = migrate(str(source.path), str(target))
    assert report.checkpoints == source.checkpoints
    assert report.items == 5
    with opened(target) as (graph, saver, store):
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread], thread
            assert state(graph, thread) == source.states[thread], thread
        assert _sorted(items(store)) == _sorted(source.items)
        found = store.search(("prefs",), filter={"rank": 2})
        assert [(i.namespace, i.key) for i in found] == [(("prefs", "u1"), "style")]
        assert len(list(saver.list(None))) == source.checkpoints


def test_pending_interrupt_resumes_on_threadloom(source: Source, tmp_path: Path) -> None:
    """The thread paused at its interrupt in LangGraph resumes on threadloom with the answer."""
    target = tmp_path / "threadloom.db"
    migrate(str(source.path), str(target))
    with opened(target) as (graph, _saver, _store):
        _values, next_nodes, interrupts, _step = state(graph, "t-paused")
        assert next_nodes == ("ask",)
        assert interrupts == [{"question": "what is your name?"}]
        result = graph.invoke(Command(resume="Cy"), config("t-paused"))
        assert result["name"] == "Cy"
        assert result["messages"][-1].content == "hello Cy"
        assert [m.content for m in result["messages"]] == [
            "hello there",
            "seen 1 messages",
            "hello Cy",
        ]


def test_source_file_is_never_modified(source: Source, tmp_path: Path) -> None:
    """The source's bytes (with WAL and shm files) are the same after a migration."""
    before = file_digest(source.path)
    migrate(str(source.path), str(tmp_path / "threadloom.db"), batch_size=2)
    assert file_digest(source.path) == before


def test_killed_run_resumes_without_duplicates(source: Source, tmp_path: Path) -> None:
    """A run that dies after three batches is continued by the next run, which writes only the rest."""
    target = tmp_path / "threadloom.db"
    seen: list[tuple[str, int, int]] = []

    def die_after_three(part: str, done: int, total: int) -> None:
        seen.append((part, done, total))
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(str(source.path), str(target), batch_size=2, progress=die_after_three)
    assert seen == [("checkpoints", n, source.checkpoints) for n in (2, 4, 6)]
    report = migrate(str(source.path), str(target), batch_size=2)
    assert report.resumed
    assert report.checkpoints == source.checkpoints - 6
    assert report.items == 5
    with opened(target) as (graph, saver, store):
        assert len(list(saver.list(None))) == source.checkpoints
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread], thread
        assert _sorted(items(store)) == _sorted(source.items)
    again = migrate(str(source.path), str(target))
    assert (again.checkpoints, again.writes, again.items) == (0, 0, 0)


def test_batch_redone_after_lost_progress_record_is_not_duplicated(
    source: Source, tmp_path: Path
) -> None:
    """A run killed between a batch's writes and its record redoes the batch: upserts, no copies."""
    target = tmp_path / "threadloom.db"
    migrate(str(source.path), str(target))
    with closing(sqlite3.connect(target)) as conn, conn:
        conn.execute("DELETE FROM threadloom_migrate_progress")
    conn.close()
    report = migrate(str(source.path), str(target))
    assert report.checkpoints == 0  # found in the target, not written again
    assert report.items == 5  # upserts
    with opened(target) as (graph, saver, store):
        assert len(list(saver.list(None))) == source.checkpoints
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread], thread
            assert state(graph, thread) == source.states[thread], thread
        assert _sorted(items(store)) == _sorted(source.items)


def test_input_checkpoint_next_as_langgraph(source: Source, tmp_path: Path) -> None:
    """The whole history, ``next`` of the input checkpoint included, equals LangGraph's."""
    target = tmp_path / "threadloom.db"
    migrate(str(source.path), str(target))
    with opened(target) as (graph, _saver, _store):
        assert history(graph, "t-done") == source.full_histories["t-done"]


def test_parallel_step_resumes_by_interrupt_id_without_rerunning_finished_node(
    tmp_path: Path,
) -> None:
    """A step where one node finished and one paused: the finished node's writes are reused."""
    from langgraph.checkpoint.sqlite import SqliteSaver as LgSaver

    path = tmp_path / "langgraph.db"
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        langgraph_runs: list[str] = []
        build_parallel("langgraph", LgSaver(conn), langgraph_runs).invoke({"log": []}, config("p"))
        assert sorted(langgraph_runs) == ["a", "b"]
    finally:
        conn.close()
    target = tmp_path / "threadloom.db"
    migrate(str(path), str(target))
    runs: list[str] = []
    with SqliteSaver.from_conn_string(str(target)) as saver:
        graph = build_parallel("threadloom", saver, runs)
        snapshot = graph.get_state(config("p"))
        assert snapshot.next == ("b",)  # the head shows "a" finished, as LangGraph's does
        [pending] = [i for task in snapshot.tasks for i in task.interrupts]
        assert pending.value == "b?"
        result = graph.invoke(Command(resume={pending.id: "yes"}), config("p"))
    assert sorted(result["log"]) == ["a", "b:yes"]
    assert runs == ["b"]  # "a" finished in LangGraph: its saved writes are applied, not re-run


def test_expired_items_stay_behind_and_ttls_keep_their_deadline(
    source: Source, tmp_path: Path
) -> None:
    """An item already expired in LangGraph is not resurrected; a live one expires when it would have."""
    import time

    with closing(sqlite3.connect(source.path)) as conn, conn:
        conn.execute(
            "UPDATE store SET expires_at = datetime('now', '-1 minutes'), ttl_minutes = 5 "
            "WHERE key = 'm3'"
        )
        conn.execute(
            "UPDATE store SET expires_at = datetime('now', '+90 minutes'), ttl_minutes = 120 "
            "WHERE key = 'm2' AND prefix = 'memories.u1'"
        )
    conn.close()
    target = tmp_path / "threadloom.db"
    report = migrate(str(source.path), str(target))
    assert (report.items, report.expired) == (4, 1)
    with opened(target) as (_graph, _saver, store):
        assert store.get(("memories", "u1"), "m3") is None
        assert store.get(("memories", "u1"), "m2") is not None
    with closing(sqlite3.connect(target)) as conn, conn:
        [(expires_at,)] = conn.execute(
            "SELECT expires_at FROM store_items WHERE key = 'm2'"
        ).fetchall()
    conn.close()
    assert abs(expires_at - (time.time() + 90 * 60)) < 120
