"""Readers of LangGraph databases: SQLite files opened read-only, PostgreSQL in READ ONLY transactions.

Each reader pages through checkpoints ordered by ``(thread_id, checkpoint_ns,
checkpoint_id)`` and store items by ``(prefix, key)``, after a cursor, so a
migration can stop anywhere and continue from the last batch it finished.
Checkpoint ids are time-ordered, so a parent always comes before its children.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from threadloom.errors import DatabaseError, MigrationError
from threadloom.migrate._decode import MISSING, decode_value

__all__ = ["CheckpointRow", "Source", "StoreRow", "open_source"]

Cursor = tuple[str, ...]


@dataclass
class CheckpointRow:
    """One LangGraph checkpoint with its pending writes, values decoded."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    writes: list[tuple[str, str, int, str, Any]] = field(default_factory=list)
    """``(task_id, task_path, idx, channel, value)`` in stored order."""

    @property
    def cursor(self) -> Cursor:
        return (self.thread_id, self.checkpoint_ns, self.checkpoint_id)


@dataclass
class StoreRow:
    """One LangGraph store item and the vectors stored for its fields."""

    prefix: str
    key: str
    value: dict[str, Any]
    vectors: dict[str, list[float]] = field(default_factory=dict)
    ttl: float | None = None
    """Minutes left before the item expires (``None``: never); ``<= 0``: already expired."""

    @property
    def namespace(self) -> tuple[str, ...]:
        return tuple(self.prefix.split("."))

    @property
    def cursor(self) -> Cursor:
        return (self.prefix, self.key)


class Source(Protocol):
    """What the migration needs of a source database."""

    name: str

    def counts(self) -> tuple[int, int]: ...
    def checkpoints(
        self, after: Cursor | None, limit: int, *, skip_pickle: bool = False
    ) -> list[CheckpointRow]: ...
    def store_items(self, after: Cursor | None, limit: int) -> list[StoreRow]: ...
    def close(self) -> None: ...


def open_source(source: str) -> Source:
    """A reader for ``source``: a ``postgres://``/``postgresql://`` URL, else a SQLite file path."""
    if source.startswith(("postgres://", "postgresql://")):
        return _PostgresSource(source)
    return _SqliteSource(source)


def _metadata(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, TypeError):
        value = decode_value("msgpack", bytes(raw), where)
    if not isinstance(value, dict):
        raise MigrationError(f"{where} has metadata that is not an object", row=where)
    return value


def _checkpoint_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or "id" not in value:
        raise MigrationError(f"{where} does not hold a LangGraph checkpoint", row=where)
    return value


def _or_skipped(
    read: Callable[..., CheckpointRow], row: tuple[Any, ...], skip_pickle: bool
) -> CheckpointRow:
    """The decoded row; with ``skip_pickle``, a pickled one becomes a placeholder without values."""
    try:
        return read(*row)
    except MigrationError as exc:
        if not (skip_pickle and exc.pickle):
            raise
        return CheckpointRow(row[0], row[1], row[2], row[3], {}, {})


def _where(table: str, *key: Any) -> str:
    return f"{table} row {'/'.join(map(str, key))}"


class _SqliteSource:
    """A LangGraph SQLite file (``checkpoints``, ``writes``, ``store``, ``store_vectors``)."""

    def __init__(self, path: str) -> None:
        file = Path(path)
        if not file.is_file():
            raise DatabaseError(f"LangGraph database {path!r} does not exist or is not a file")
        self.name = str(file.resolve())
        # mode=ro: the source is never written, not even by a WAL checkpoint on close.
        self._conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            self._tables = {name for (name,) in rows}
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise DatabaseError(f"{path!r} is not a readable SQLite file: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def _count(self, table: str) -> int:
        if table not in self._tables:
            return 0
        return int(self._conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def counts(self) -> tuple[int, int]:
        return self._count("checkpoints"), self._count("store")

    def checkpoints(
        self, after: Cursor | None, limit: int, *, skip_pickle: bool = False
    ) -> list[CheckpointRow]:
        if "checkpoints" not in self._tables:
            return []
        after = after or ("", "", "")
        rows = self._conn.execute(
            "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
            "checkpoint, metadata FROM checkpoints "
            "WHERE (thread_id, checkpoint_ns, checkpoint_id) > (?, ?, ?) "
            "ORDER BY thread_id, checkpoint_ns, checkpoint_id LIMIT ?",
            (*after, limit),
        ).fetchall()
        return [_or_skipped(self._checkpoint, row, skip_pickle) for row in rows]

    def _checkpoint(
        self,
        thread_id: str,
        ns: str,
        cid: str,
        parent: str | None,
        kind: str,
        blob: bytes,
        meta: Any,
    ) -> CheckpointRow:
        where = _where("checkpoints", thread_id, ns, cid)
        row = CheckpointRow(
            thread_id,
            ns,
            cid,
            parent,
            _checkpoint_dict(decode_value(kind, blob, where), where),
            _metadata(meta, where),
        )
        if "writes" in self._tables:
            for task_id, task_path, idx, channel, wkind, value in self._conn.execute(
                "SELECT task_id, task_path, idx, channel, type, value FROM writes "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ? "
                "ORDER BY task_id, idx",
                (thread_id, ns, cid),
            ):
                wwhere = _where("writes", thread_id, ns, cid, task_id, idx)
                row.writes.append(
                    (task_id, task_path, idx, channel, decode_value(wkind, value, wwhere))
                )
        return row

    def store_items(self, after: Cursor | None, limit: int) -> list[StoreRow]:
        if "store" not in self._tables:
            return []
        after = after or ("", "")
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(store)")}
        ttl = (
            "(julianday(expires_at) - julianday('now')) * 1440"
            if "expires_at" in columns
            else "NULL"
        )
        rows = self._conn.execute(
            f"SELECT prefix, key, value, {ttl} FROM store WHERE (prefix, key) > (?, ?) "
            "ORDER BY prefix, key LIMIT ?",
            (*after, limit),
        ).fetchall()
        result = []
        for prefix, key, value, minutes in rows:
            item = StoreRow(prefix, key, json.loads(value), ttl=minutes)
            if "store_vectors" in self._tables:
                for field_name, blob in self._conn.execute(
                    "SELECT field_name, embedding FROM store_vectors WHERE prefix = ? AND key = ?",
                    (prefix, key),
                ):
                    if blob:  # sqlite-vec keeps float32 little-endian
                        item.vectors[field_name] = list(struct.unpack(f"<{len(blob) // 4}f", blob))
            result.append(item)
        return result


class _PostgresSource:
    """A LangGraph PostgreSQL database, read in one READ ONLY transaction per call."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.name = url.split("@")[-1]  # no credentials in progress records or messages
        self._conn = psycopg.connect(url, autocommit=False)
        self._conn.read_only = True
        with self._conn.transaction():
            rows = self._conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            ).fetchall()
        self._tables = {name for (name,) in rows}

    def close(self) -> None:
        self._conn.close()

    def _query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with self._conn.transaction():
            return self._conn.execute(sql, params).fetchall()

    def counts(self) -> tuple[int, int]:
        def count(table: str) -> int:
            if table not in self._tables:
                return 0
            return int(self._query(f"SELECT count(*) FROM {table}")[0][0])

        return count("checkpoints"), count("store")

    def checkpoints(
        self, after: Cursor | None, limit: int, *, skip_pickle: bool = False
    ) -> list[CheckpointRow]:
        if "checkpoints" not in self._tables:
            return []
        after = after or ("", "", "")
        with self._conn.transaction():
            rows = self._conn.execute(
                "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, "
                "checkpoint, metadata FROM checkpoints "
                "WHERE (thread_id, checkpoint_ns, checkpoint_id) > (%s, %s, %s) "
                "ORDER BY thread_id, checkpoint_ns, checkpoint_id LIMIT %s",
                (*after, limit),
            ).fetchall()
            return [_or_skipped(self._checkpoint, row, skip_pickle) for row in rows]

    def _checkpoint(
        self, thread_id: str, ns: str, cid: str, parent: str | None, data: Any, meta: Any
    ) -> CheckpointRow:
        where = _where("checkpoints", thread_id, ns, cid)
        checkpoint = dict(_checkpoint_dict(data, where))
        # Primitive values sit inline in the JSON; the others are blobs keyed by channel version.
        values = dict(checkpoint.get("channel_values") or {})
        versions = checkpoint.get("channel_versions") or {}
        if versions and "checkpoint_blobs" in self._tables:
            blobs = self._conn.execute(
                "SELECT channel, type, blob FROM checkpoint_blobs "
                "WHERE thread_id = %s AND checkpoint_ns = %s "
                "AND (channel, version) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
                (thread_id, ns, list(versions), [str(v) for v in versions.values()]),
            ).fetchall()
            for channel, kind, blob in blobs:
                value = decode_value(kind, blob, _where("checkpoint_blobs", thread_id, ns, channel))
                if value is not MISSING:
                    values[channel] = value
        checkpoint["channel_values"] = values
        row = CheckpointRow(thread_id, ns, cid, parent, checkpoint, _metadata(meta, where))
        if "checkpoint_writes" in self._tables:
            for task_id, task_path, idx, channel, kind, blob in self._conn.execute(
                "SELECT task_id, task_path, idx, channel, type, blob FROM checkpoint_writes "
                "WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s "
                "ORDER BY task_id, idx",
                (thread_id, ns, cid),
            ):
                wwhere = _where("checkpoint_writes", thread_id, ns, cid, task_id, idx)
                row.writes.append(
                    (task_id, task_path, idx, channel, decode_value(kind, blob, wwhere))
                )
        return row

    def store_items(self, after: Cursor | None, limit: int) -> list[StoreRow]:
        if "store" not in self._tables:
            return []
        after = after or ("", "")
        with self._conn.transaction():
            has_ttl = self._conn.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = 'store' AND column_name = 'expires_at'"
            ).fetchone()
            ttl = "EXTRACT(EPOCH FROM (expires_at - now())) / 60" if has_ttl else "NULL"
            rows = self._conn.execute(
                f"SELECT prefix, key, value, {ttl} FROM store WHERE (prefix, key) > (%s, %s) "
                "ORDER BY prefix, key LIMIT %s",
                (*after, limit),
            ).fetchall()
            result = []
            for prefix, key, value, minutes in rows:
                item = StoreRow(
                    prefix,
                    key,
                    value if isinstance(value, dict) else json.loads(value),
                    ttl=None if minutes is None else float(minutes),
                )
                if "store_vectors" in self._tables:
                    for field_name, text in self._conn.execute(
                        "SELECT field_name, embedding::text FROM store_vectors "
                        "WHERE prefix = %s AND key = %s",
                        (prefix, key),
                    ):
                        if text:
                            item.vectors[field_name] = [
                                float(x) for x in text.strip("[]").split(",")
                            ]
                result.append(item)
            return result
