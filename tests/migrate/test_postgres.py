"""`migrate` from a PostgreSQL database the real LangGraph wrote, store vectors (pgvector) included."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _apps import (
    MEMORIES,
    THREADS,
    build,
    config,
    history_apart_from_input_next,
    items,
    populate,
    state,
)

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.migrate import migrate
from threadloom.store.postgres import PostgresStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.types import Command

pytestmark = pytest.mark.postgres

DIMS = 16
QUERIES = ("tea", "where does the user live", "music instrument", "cats")


@dataclass
class Source:
    dsn: str
    histories: dict[str, list[Any]]
    states: dict[str, Any]
    items: dict[Any, Any]
    searches: dict[str, list[tuple[tuple[str, ...], str]]]


def _index(embed: Any, dims: int = DIMS) -> Any:
    return {"dims": dims, "embed": embed, "fields": ["data"]}


def _search(store: Any) -> dict[str, list[tuple[tuple[str, ...], str]]]:
    return {
        q: [(i.namespace, i.key) for i in store.search(("memories",), query=q, limit=3)]
        for q in QUERIES
    }


@pytest.fixture
def source(pg_schema: Callable[[], str]) -> Source:
    """LangGraph's PostgresSaver and PostgresStore (cosine vectors) filled by the app."""
    from langgraph.checkpoint.postgres import PostgresSaver as LgSaver
    from langgraph.store.postgres import PostgresStore as LgStore

    dsn = pg_schema()
    with (
        LgSaver.from_conn_string(dsn) as saver,
        LgStore.from_conn_string(
            dsn, index={**_index(HashingEmbed(DIMS)), "distance_type": "cosine"}
        ) as store,
    ):
        saver.setup()
        store.setup()
        graph = build("langgraph", saver, store)
        populate(graph, store)
        return Source(
            dsn,
            {t: history_apart_from_input_next(graph, t) for t in THREADS},
            {t: state(graph, t) for t in THREADS},
            items(store),
            _search(store),
        )


def _fingerprint(dsn: str) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row, per LangGraph table."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for table in (
            "checkpoints",
            "checkpoint_blobs",
            "checkpoint_writes",
            "store",
            "store_vectors",
        ):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
            out[table] = (len(rows), digest)
    return out


def _sorted(found: dict[Any, Any]) -> dict[Any, Any]:
    return {ns: sorted(pairs) for ns, pairs in found.items()}


def test_postgres_to_postgres_keeps_threads_items_and_vectors(
    source: Source, pg_schema: Callable[[], str]
) -> None:
    """Same histories, states, items and search results; vectors of the same dims are reused."""
    before = _fingerprint(source.dsn)
    assert before["store_vectors"][0] == sum(len(v) for v in MEMORIES.values())  # one per item
    assert all(source.searches.values())
    target = pg_schema()
    embed = HashingEmbed(DIMS)
    report = migrate(source.dsn, target, index=_index(embed), batch_size=3)
    assert _fingerprint(source.dsn) == before
    assert report.items == sum(len(v) for v in MEMORIES.values())
    assert report.vectors_reused == report.items and report.vectors_embedded == 0
    assert embed.calls == []
    with (
        PostgresSaver.from_conn_string(target) as saver,
        PostgresStore.from_conn_string(target, index=_index(embed)) as store,
    ):
        graph = build("threadloom", saver, store)
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread]
            assert state(graph, thread) == source.states[thread]
        assert _sorted(items(store)) == _sorted(source.items)
        assert _search(store) == source.searches
        result = graph.invoke(Command(resume="Di"), config("t-paused"))
        assert result["messages"][-1].content == "hello Di"


def test_vectors_of_other_dims_are_embedded_again(
    source: Source, pg_schema: Callable[[], str]
) -> None:
    """A target with another embedder (other dims) embeds every text again; search works on it."""
    target = pg_schema()
    embed = HashingEmbed(32)
    report = migrate(source.dsn, target, index=_index(embed, 32))
    assert report.vectors_reused == 0
    assert report.vectors_embedded == report.items
    with PostgresStore.from_conn_string(target, index=_index(embed, 32)) as store:
        found = store.search(("memories",), query="green tea", limit=1)
        assert [(i.namespace, i.key) for i in found] == [(("memories", "u1"), "m1")]


def test_killed_postgres_run_resumes(source: Source, pg_schema: Callable[[], str]) -> None:
    """A run stopped after two batches continues from its progress record in the target."""
    target = pg_schema()
    calls: list[str] = []

    def stop_after_two(part: str, done: int, total: int) -> None:
        calls.append(part)
        if len(calls) == 2:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        migrate(
            source.dsn,
            target,
            index=_index(HashingEmbed(DIMS)),
            batch_size=4,
            progress=stop_after_two,
        )
    report = migrate(source.dsn, target, index=_index(HashingEmbed(DIMS)), batch_size=4)
    assert report.resumed
    with PostgresSaver.from_conn_string(target) as saver:
        graph = build("threadloom", saver, None)
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread]
    with psycopg.connect(source.dsn) as conn:
        total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    assert report.checkpoints == total - 8


def test_missing_index_for_source_vectors_is_a_typed_error(
    source: Source, pg_schema: Callable[[], str]
) -> None:
    """Vectors in the source and no index for the target: refused, naming what to pass."""
    from threadloom.errors import MigrationError

    with pytest.raises(MigrationError, match="index="):
        migrate(source.dsn, pg_schema())


def test_postgres_source_is_read_in_read_only_transactions(source: Source) -> None:
    """The reader's connection cannot write, whatever a bug in it might try."""
    from threadloom.migrate._sources import open_source

    reader = open_source(source.dsn)
    try:
        assert reader.counts()[0] > 0
        conn = reader._conn  # type: ignore[attr-defined]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), conn.transaction():
            conn.execute("DELETE FROM checkpoints")
    finally:
        reader.close()
    with psycopg.connect(source.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0] > 0


def test_postgres_to_sqlite_keeps_search_results(source: Source, tmp_path: Path) -> None:
    """Across backends: a PostgreSQL source into a SQLite file gives the same threads and searches."""
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.store.sqlite import SqliteStore

    target = str(tmp_path / "threadloom.db")
    embed = HashingEmbed(DIMS)
    report = migrate(source.dsn, target, index=_index(embed))
    assert report.vectors_reused == report.items and embed.calls == []
    with (
        SqliteSaver.from_conn_string(target) as saver,
        SqliteStore.from_conn_string(target, index=_index(embed)) as store,
    ):
        graph = build("threadloom", saver, store)
        for thread in THREADS:
            assert history_apart_from_input_next(graph, thread) == source.histories[thread]
        assert _search(store) == source.searches
