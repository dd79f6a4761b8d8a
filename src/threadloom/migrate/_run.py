"""Copy a LangGraph database into threadloom, batch by batch, resumably.

Writes go through threadloom's public savers and stores. After each batch the
migration records how far it got in a ``threadloom_migrate_progress`` table of
the target; a re-run reads it and continues after the last finished batch.
A run killed between a batch's writes and its record redoes that batch: every
write is an upsert keyed by the source's ids, so nothing is duplicated.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointMetadata
from threadloom.errors import MigrationError
from threadloom.migrate._sources import CheckpointRow, Cursor, Source, StoreRow, open_source
from threadloom.migrate._tasks import threadloom_writes
from threadloom.store.base import BaseStore, IndexConfig, PutOp, get_text_at_path

__all__ = ["MigrationReport", "migrate"]

Progress = Callable[[str, int, int], None]
"""``progress(part, done, total)``: called after each finished batch (part: checkpoints/items)."""

_TABLE = "threadloom_migrate_progress"


@dataclass
class MigrationReport:
    """What one run of :func:`migrate` did."""

    checkpoints: int = 0
    """Checkpoints written by this run."""
    writes: int = 0
    """Pending writes written by this run."""
    items: int = 0
    """Store items written by this run."""
    vectors_reused: int = 0
    """Field vectors copied from the source (same dims) instead of re-embedded."""
    vectors_embedded: int = 0
    """Field texts embedded again by the target's embedder."""
    expired: int = 0
    """Store items left out because they had expired in the source."""
    skipped_pickle: int = 0
    """Checkpoints left out because they hold pickled values (``skip_pickle=True``)."""
    resumed: bool = False
    """This run continued a run that had stopped."""


def migrate(
    source: str,
    target: str,
    *,
    index: IndexConfig | None = None,
    batch_size: int = 200,
    skip_pickle: bool = False,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy LangGraph's checkpoints, pending writes and store items from ``source`` into ``target``.

    ``source`` and ``target`` are SQLite file paths or ``postgresql://`` URLs.
    The source is only read (SQLite ``mode=ro``, PostgreSQL READ ONLY). ``index``
    is the target store's index configuration, needed when the source has
    vectors: a source vector whose length equals ``index["dims"]`` is reused,
    otherwise the text is embedded again. A pickled value raises
    :class:`~threadloom.errors.MigrationError` naming its row, unless
    ``skip_pickle`` leaves its checkpoint out (counted in the report).
    Re-running after a failure continues where the failed run stopped.
    """
    if batch_size < 1:
        raise MigrationError(f"batch_size must be at least 1, got {batch_size}")
    report = MigrationReport()
    src = open_source(source)
    try:
        n_checkpoints, n_items = src.counts()
        embed = _ReusingEmbedder(index, report) if index is not None else None
        with _target(target, embed, index) as (saver, store, marks):
            done = marks.load(src.name)
            report.resumed = bool(done)
            _copy_checkpoints(
                src, saver, marks, done, batch_size, skip_pickle, n_checkpoints, report, progress
            )
            _copy_items(src, store, embed, marks, done, batch_size, n_items, report, progress)
    finally:
        src.close()
    return report


def _copy_checkpoints(
    src: Source,
    saver: BaseCheckpointSaver,
    marks: _Marks,
    done: dict[str, tuple[Cursor, int]],
    batch_size: int,
    skip_pickle: bool,
    total: int,
    report: MigrationReport,
    progress: Progress | None,
) -> None:
    cursor, count = done.get("checkpoints", (None, 0))
    # A run killed between a batch's writes and its progress record left some of the next
    # rows written: look before writing until a batch finds none of them there.
    check = True
    while True:
        batch = src.checkpoints(cursor, batch_size, skip_pickle=skip_pickle)
        if not batch:
            return
        found = False
        for row in batch:
            if not row.checkpoint:  # a pickled row, left out (skip_pickle)
                report.skipped_pickle += 1
            elif _put_checkpoint(saver, row, check):
                report.checkpoints += 1
                report.writes += len(row.writes)
            else:
                found = True
        check = found
        cursor, count = batch[-1].cursor, count + len(batch)
        marks.save(src.name, "checkpoints", cursor, count)
        if progress is not None:
            progress("checkpoints", count, total)


def _put_checkpoint(saver: BaseCheckpointSaver, row: CheckpointRow, check: bool) -> bool:
    """Write ``row`` and its pending writes; ``False`` if ``check`` found it already there.

    Only the checkpoint itself is skipped then: its writes are upserts, written again.
    """
    config: RunnableConfig = {
        "configurable": {
            "thread_id": row.thread_id,
            "checkpoint_ns": row.checkpoint_ns,
            "checkpoint_id": row.checkpoint_id,
        }
    }
    exists = check and saver.get_tuple(config) is not None
    if not exists:
        _put(saver, row)
    for (task_id, task_path), writes in threadloom_writes(row).items():
        saver.put_writes(config, writes, task_id, task_path)
    return not exists


def _put(saver: BaseCheckpointSaver, row: CheckpointRow) -> None:
    configurable: dict[str, Any] = {"thread_id": row.thread_id, "checkpoint_ns": row.checkpoint_ns}
    if row.parent_id:
        configurable["checkpoint_id"] = row.parent_id
    checkpoint = dict(row.checkpoint)
    checkpoint.setdefault("versions_seen", {})
    checkpoint.setdefault("updated_channels", None)
    versions = dict(checkpoint.get("channel_versions") or {})
    saver.put(
        {"configurable": configurable},
        Checkpoint(**checkpoint),  # type: ignore[typeddict-item]
        CheckpointMetadata(**row.metadata),  # type: ignore[typeddict-item]
        versions,
    )


def _copy_items(
    src: Source,
    store: BaseStore,
    embed: _ReusingEmbedder | None,
    marks: _Marks,
    done: dict[str, tuple[Cursor, int]],
    batch_size: int,
    total: int,
    report: MigrationReport,
    progress: Progress | None,
) -> None:
    cursor, count = done.get("items", (None, 0))
    while True:
        batch = src.store_items(cursor, batch_size)
        if not batch:
            return
        if any(item.vectors for item in batch) and embed is None:
            raise MigrationError(
                "the source store holds vectors: pass index= (dims, embed, fields) for the "
                "target store so they can be kept or embedded again"
            )
        live = [item for item in batch if item.ttl is None or item.ttl > 0]
        report.expired += len(batch) - len(live)
        if embed is not None:
            embed.remember(live)
        if live:
            # The time left, not the original TTL: an item expires when it would have.
            store.batch([PutOp(i.namespace, i.key, i.value, ttl=i.ttl) for i in live])
        report.items += len(live)
        cursor, count = batch[-1].cursor, count + len(batch)
        marks.save(src.name, "items", cursor, count)
        if progress is not None:
            progress("items", count, total)


class _ReusingEmbedder:
    """The target's embedder, answering from the source's vectors when it has one for a text."""

    def __init__(self, index: IndexConfig, report: MigrationReport) -> None:
        self.dims = int(index["dims"])
        self._spec = index.get("embed")
        self._embed: Callable[[Sequence[str]], Sequence[Sequence[float]]] | None = None
        self._known: dict[str, list[float]] = {}
        self._report = report

    def remember(self, batch: Sequence[StoreRow]) -> None:
        self._known.clear()
        for item in batch:
            for path, vector in item.vectors.items():
                if len(vector) != self.dims:
                    continue  # another model's vectors: the text is embedded again
                for text in get_text_at_path(item.value, path):
                    self._known[text] = vector

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [t for t in texts if t not in self._known]
        if missing:
            if self._embed is None:  # loaded on the first miss: reused vectors need no model
                self._embed = _embed_function(self._spec)
            fresh = self._embed(missing)
            self._known.update(zip(missing, (list(v) for v in fresh), strict=True))
            self._report.vectors_embedded += len(missing)
        self._report.vectors_reused += len(texts) - len(missing)
        return [self._known[t] for t in texts]


def _embed_function(embed: Any) -> Callable[[Sequence[str]], Sequence[Sequence[float]]]:
    if embed is None:
        raise MigrationError("index= needs an 'embed' for texts whose vectors cannot be reused")
    if isinstance(embed, str):
        from threadloom.embeddings import init_embeddings

        embed = init_embeddings(embed)
    if hasattr(embed, "embed_documents"):
        return lambda texts: embed.embed_documents(list(texts))
    if callable(embed):
        return embed
    raise MigrationError(f"index['embed'] is not an embedder: {embed!r}")


@contextmanager
def _target(
    target: str, embed: _ReusingEmbedder | None, index: IndexConfig | None
) -> Iterator[tuple[BaseCheckpointSaver, BaseStore, _Marks]]:
    store_index: Any = None if index is None else {**index, "embed": embed}
    with ExitStack() as stack:
        marks: _Marks
        if target.startswith(("postgres://", "postgresql://")):
            from threadloom.checkpoint.postgres import PostgresSaver
            from threadloom.store.postgres import PostgresStore

            saver: BaseCheckpointSaver = stack.enter_context(
                PostgresSaver.from_conn_string(target, turn_timeout=0.0)
            )
            store: BaseStore = stack.enter_context(
                PostgresStore.from_conn_string(target, index=store_index)
            )
            marks = stack.enter_context(_PostgresMarks.open(target))
        else:
            from threadloom.checkpoint.sqlite import SqliteSaver
            from threadloom.store.sqlite import SqliteStore

            saver = stack.enter_context(SqliteSaver.from_conn_string(target, turn_timeout=0.0))
            store = stack.enter_context(SqliteStore.from_conn_string(target, index=store_index))
            marks = stack.enter_context(_SqliteMarks.open(target))
        saver.setup()  # type: ignore[attr-defined]
        store.setup()  # type: ignore[attr-defined]
        yield saver, store, marks


class _Marks:
    """The progress record in the target: per source and part, the last cursor and a count."""

    def load(self, source: str) -> dict[str, tuple[Cursor, int]]:
        return {
            part: (tuple(json.loads(cursor)), count) for part, cursor, count in self._rows(source)
        }

    def _rows(self, source: str) -> list[tuple[str, str, int]]:
        raise NotImplementedError

    def save(self, source: str, part: str, cursor: Cursor, count: int) -> None:
        raise NotImplementedError


_DDL = (
    f"CREATE TABLE IF NOT EXISTS {_TABLE} (source TEXT NOT NULL, part TEXT NOT NULL, "
    "cursor TEXT NOT NULL, done INTEGER NOT NULL, PRIMARY KEY (source, part))"
)


class _SqliteMarks(_Marks):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    @contextmanager
    def open(cls, path: str) -> Iterator[_SqliteMarks]:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            conn.execute(_DDL)
            yield cls(conn)
        finally:
            conn.close()

    def _rows(self, source: str) -> list[tuple[str, str, int]]:
        sql = f"SELECT part, cursor, done FROM {_TABLE} WHERE source = ?"
        return self._conn.execute(sql, (source,)).fetchall()

    def save(self, source: str, part: str, cursor: Cursor, count: int) -> None:
        self._conn.execute(
            f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?) ON CONFLICT (source, part) "
            "DO UPDATE SET cursor = excluded.cursor, done = excluded.done",
            (source, part, json.dumps(cursor), count),
        )


class _PostgresMarks(_Marks):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    @contextmanager
    def open(cls, url: str) -> Iterator[_PostgresMarks]:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_DDL)
            yield cls(conn)

    def _rows(self, source: str) -> list[tuple[str, str, int]]:
        sql = f"SELECT part, cursor, done FROM {_TABLE} WHERE source = %s"
        return list(self._conn.execute(sql, (source,)).fetchall())

    def save(self, source: str, part: str, cursor: Cursor, count: int) -> None:
        self._conn.execute(
            f"INSERT INTO {_TABLE} VALUES (%s, %s, %s, %s) ON CONFLICT (source, part) "
            "DO UPDATE SET cursor = excluded.cursor, done = excluded.done",
            (source, part, json.dumps(cursor), count),
        )
