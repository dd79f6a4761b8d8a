"""The :class:`SqliteSaver`: its file, its transactions, and the saver operations on SQLite."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig

from threadloom._sqlite import Database, migrate, verify
from threadloom.checkpoint._common import (
    PAUSED_CHANNELS,
    Head,
    PutGuard,
    SaverOps,
    attach_sends,
    checkpoint_config,
    encode_metadata,
    encode_writes,
    list_scope,
    needs_sends,
    stored_tuple,
    take,
    writes_address,
)
from threadloom.checkpoint._loading import (
    check_header,
    load_metadata,
    load_value,
    load_write,
    stored_context,
)
from threadloom.checkpoint.base import (
    ChainCache,
    ChannelVersion,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    StoredBlob,
    TaskWrites,
    decode_channels,
    encode_channels,
    encode_checkpoint,
    get_thread_address,
)
from threadloom.checkpoint.base._core import TASKS
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer
from threadloom.checkpoint.sqlite._schema import COMPONENT, MIGRATIONS

__all__ = ["SqliteSaver"]

T = TypeVar("T")

_SNAPSHOT_COLUMNS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata_type, metadata"
)
# Unix seconds with a fraction (unixepoch('subsec') needs SQLite 3.42).
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_Row = tuple[str, str, str, "str | None", str, bytes, str, "bytes | str"]


def _vkey(version: ChannelVersion) -> str:
    """A version as stored in the ``version`` column (floats by ``repr``: exact)."""
    return repr(version) if isinstance(version, float) else str(version)


_FILTER_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def _check_filter_key(key: Any) -> None:
    """Filter keys are letters, digits, ``_``, ``.`` and ``-``, as LangGraph's SQLite saver accepts."""
    if not isinstance(key, str) or not _FILTER_KEY.fullmatch(key):
        raise ValueError(
            f"Invalid filter key: {key!r}. Filter keys must contain only alphanumeric "
            "characters, underscores, dots, and hyphens."
        )


class SqliteSaver(SaverOps):
    """Checkpointer backed by a SQLite file (or ``":memory:"``).

    Build it with :meth:`from_conn_string` (which opens, sets up and closes the
    file), from a file path (closed by :meth:`close`), or from a ``sqlite3.Connection`` you own (opened with
    ``check_same_thread=False`` if the async methods are used; it is switched
    to WAL and autocommit). The schema is created by :meth:`setup`, which runs
    on first use if you do not call it. A file that holds another application's
    tables is refused (:class:`~threadloom.errors.ForeignDatabaseError`, the
    file untouched) unless ``allow_foreign_tables=True``.

    Processes (and threads) taking turns on one thread at once cannot both
    extend it: the second ``put`` raises :class:`~threadloom.errors.CheckpointConflictError`
    and writes nothing (see :mod:`threadloom.checkpoint._common` for the rule
    and ``turn_timeout``).
    """

    _offload_to_thread = True  # the async twins run the same SQLite code in a worker thread

    def __init__(
        self,
        conn: sqlite3.Connection | Database | str | os.PathLike[str],
        *,
        serde: Any = None,
        allow_foreign_tables: bool = False,
        turn_timeout: float = 120.0,
    ) -> None:
        super().__init__(serde=serde, turn_timeout=turn_timeout)
        self._db = Database.adopt(conn, allow_foreign_tables=allow_foreign_tables)
        self._is_setup = False

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | os.PathLike[str],
        *,
        serde: Any = None,
        allow_foreign_tables: bool = False,
        turn_timeout: float = 120.0,
    ) -> Iterator[SqliteSaver]:
        """Open ``conn_string`` (a file path or ``":memory:"``), set it up, close it on exit.

        Raises :class:`~threadloom.errors.DatabaseError` for a missing or
        read-only directory or a file that is not SQLite, and
        :class:`~threadloom.errors.SchemaVersionError` for a file written by a
        newer threadloom, and :class:`~threadloom.errors.ForeignDatabaseError`
        for a file holding another application's tables (unless
        ``allow_foreign_tables``); such files are left untouched.
        """
        db = Database.open(conn_string, allow_foreign_tables=allow_foreign_tables)
        try:
            saver = cls(db, serde=serde, turn_timeout=turn_timeout)
            saver.setup()
            yield saver
        finally:
            db.close()

    def setup(self) -> None:
        """Create or upgrade the tables (idempotent; the version is recorded in the file)."""
        migrate(self._db, COMPONENT, MIGRATIONS)
        self._is_setup = True

    def verify(self) -> None:
        """Read every page of the file; a damaged one raises
        :class:`~threadloom.errors.DatabaseError` naming the file (time grows with its size)."""
        verify(self._db)

    def close(self) -> None:
        """Close the connection if this saver opened it."""
        self._db.close()

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._is_setup:
            self.setup()
        return self._db.read(fn)

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._is_setup:
            self.setup()
        return self._db.write(fn)

    # --- reads ---

    def _get_tuple_op(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint addressed by ``config`` (the thread's latest without ``checkpoint_id``)."""
        thread_id, ns, checkpoint_id = get_thread_address(config)

        def read(conn: sqlite3.Connection) -> CheckpointTuple | None:
            if checkpoint_id is None:
                row = conn.execute(
                    f"SELECT {_SNAPSHOT_COLUMNS} FROM checkpoint_snapshots WHERE thread_id = ? "
                    "AND checkpoint_ns = ? ORDER BY checkpoint_id DESC LIMIT 1",
                    (thread_id, ns),
                ).fetchone()
            else:
                row = conn.execute(
                    f"SELECT {_SNAPSHOT_COLUMNS} FROM checkpoint_snapshots WHERE thread_id = ? "
                    "AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, checkpoint_id),
                ).fetchone()
            return None if row is None else self._tuple(conn, row)

        return self._read(read)

    def _tuple(self, conn: sqlite3.Connection, row: _Row, cache: ChainCache | None = None) -> CheckpointTuple:
        thread_id, ns, checkpoint_id, parent_id, type_tag, header, meta_type, meta = row
        with stored_context(thread_id, ns, checkpoint_id):
            checkpoint = check_header(load_value(self.serde, (type_tag, header), "checkpoint header"))
        versions: dict[str, ChannelVersion] = checkpoint["channel_versions"]
        # Chains rebuilt earlier in a listing are not read again.
        wanted = versions if cache is None else {c: v for c, v in versions.items() if (c, v) not in cache}
        blobs = self._fetch_blobs(conn, thread_id, ns, wanted)
        stored_writes = conn.execute(
            "SELECT task_id, channel, type, data FROM checkpoint_writes WHERE thread_id = ? "
            "AND checkpoint_ns = ? AND checkpoint_id = ? ORDER BY rowid",
            (thread_id, ns, checkpoint_id),
        ).fetchall()
        with stored_context(thread_id, ns, checkpoint_id):
            checkpoint["channel_values"] = decode_channels(
                self.serde, versions, lambda channel, version: blobs.get((channel, _vkey(version))), cache
            )
            writes: list[PendingWrite] = [
                load_write(self.serde, task_id, channel, (wtype, data))
                for task_id, channel, wtype, data in stored_writes
            ]
            metadata = load_metadata(self.serde, (meta_type, meta.encode("utf-8", "surrogatepass") if isinstance(meta, str) else meta))
            if needs_sends(checkpoint, parent_id):
                # Only older (LangGraph) checkpoints pay this query: see needs_sends.
                sends = [
                    load_value(self.serde, (wtype, data), f"pending send {i}")
                    for i, (wtype, data) in enumerate(conn.execute(
                        "SELECT type, data FROM checkpoint_writes WHERE thread_id = ? AND checkpoint_ns = ? "
                        "AND checkpoint_id = ? AND channel = ? ORDER BY rowid",
                        (thread_id, ns, parent_id, TASKS),
                    ))
                ]
                attach_sends(checkpoint, sends, self.get_next_version)
        return stored_tuple(thread_id, ns, checkpoint_id, parent_id, checkpoint, metadata, writes)

    @staticmethod
    def _fetch_blobs(
        conn: sqlite3.Connection, thread_id: str, ns: str, versions: dict[str, ChannelVersion]
    ) -> dict[tuple[str, str], StoredBlob]:
        """Every blob the channels need, delta chains included, in one recursive query."""
        if not versions:
            return {}
        seeds = ", ".join("(?, ?)" for _ in versions)
        params: list[Any] = []
        for channel, version in versions.items():
            params += [channel, _vkey(version)]
        params += [thread_id, ns, thread_id, ns]
        rows = conn.execute(
            f"""
            WITH RECURSIVE chain(channel, version) AS (
                VALUES {seeds}
                UNION
                SELECT b.channel, b.base_version FROM checkpoint_blobs b
                JOIN chain c ON b.channel = c.channel AND b.version = c.version
                WHERE b.thread_id = ? AND b.checkpoint_ns = ? AND b.kind = 'delta'
            )
            SELECT b.channel, b.version, b.kind, b.base_version, b.type, b.data
            FROM chain c JOIN checkpoint_blobs b
            ON b.thread_id = ? AND b.checkpoint_ns = ? AND b.channel = c.channel AND b.version = c.version
            """,
            params,
        ).fetchall()
        # base_version is kept as its stored text: decode_channels looks it up through _vkey,
        # and _vkey of a str is the str itself.
        return {(channel, version): StoredBlob(kind, base, type_tag, data) for channel, version, kind, base, type_tag, data in rows}

    def _list_op(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by id), optionally of one thread/namespace.

        ``filter`` keeps checkpoints whose metadata has equal values for its
        keys (string and integer values are matched in SQL); ``before`` keeps
        ids older than that config's ``checkpoint_id``.
        """
        if limit is not None and limit <= 0:
            return
        scope = list_scope(config, before)
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("thread_id", scope.thread_id),
            ("checkpoint_ns", scope.ns),
            ("checkpoint_id", scope.checkpoint_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if scope.before_id is not None:
            where.append("checkpoint_id < ?")
            params.append(scope.before_id)
        # Metadata of another type (encrypted, say) passes SQL and is matched once decoded.
        all_in_sql = isinstance(self.serde, JsonPlusSerializer)
        for key, value in (filter or {}).items():
            _check_filter_key(key)
            # SQL gets what it can compare exactly (64-bit integers) on plain keys; the rest
            # (dotted keys, which may address nested dicts) is matched below.
            if "." not in key and (
                type(value) is str or (type(value) is int and -(2**63) <= value < 2**63)
            ):
                where.append(
                    "CASE WHEN metadata_type = 'json' THEN json_extract(metadata, ?) = ? ELSE 1 END"
                )
                params += [f'$."{key}"', value]
            else:
                all_in_sql = False
        sql = f"SELECT {_SNAPSHOT_COLUMNS} FROM checkpoint_snapshots"
        if where:
            sql += " WHERE " + " AND ".join(f"({w})" for w in where)
        sql += " ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC"
        if limit is not None and all_in_sql:
            sql += f" LIMIT {int(limit)}"
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        # An older checkpoint's chain is a prefix of a newer one's: each delta is decoded once.
        caches: dict[tuple[str, str], ChainCache] = {}

        def entry(row: _Row) -> CheckpointTuple:
            cache = caches.setdefault((row[0], row[1]), ChainCache(_vkey))
            return self._read(partial(self._tuple, row=row, cache=cache))

        # Filters SQL cannot express (and re-checks of those it did) run on the decoded metadata.
        yield from take((entry(row) for row in rows), filter, limit)

    def _peek_latest_op(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the latest checkpoint; reads no values."""
        thread_id, ns, _ = get_thread_address(config)
        row = self._read(
            lambda conn: conn.execute(
                "SELECT s.checkpoint_id, EXISTS (SELECT 1 FROM checkpoint_writes w WHERE "
                "w.thread_id = s.thread_id AND w.checkpoint_ns = s.checkpoint_ns AND "
                "w.checkpoint_id = s.checkpoint_id) FROM checkpoint_snapshots s "
                "WHERE s.thread_id = ? AND s.checkpoint_ns = ? ORDER BY s.checkpoint_id DESC LIMIT 1",
                (thread_id, ns),
            ).fetchone()
        )
        return None if row is None else (row[0], bool(row[1]))

    # --- writes ---

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
    ) -> RunnableConfig:
        """Store ``checkpoint`` as a child of ``config``'s checkpoint; returns the new config."""
        write, stored = self._putting(config, checkpoint, metadata, new_versions, guard)
        self._write(write)
        return stored

    def _put_step_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
        task_writes: list[TaskWrites],
    ) -> RunnableConfig:
        """The tasks' writes and the checkpoint, in one transaction."""
        writing = [self._writing(config, w, task_id, path) for task_id, path, w in task_writes]
        put, stored = self._putting(config, checkpoint, metadata, new_versions, guard)

        def write(conn: sqlite3.Connection) -> None:
            put(conn)  # the guard's check first: a refused put stores no writes either
            for each in writing:
                each(conn)

        self._write(write)
        return stored

    def _putting(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
    ) -> tuple[Callable[[sqlite3.Connection], None], RunnableConfig]:
        """What a put writes inside its transaction, and the new checkpoint's config."""
        thread_id, ns, parent_id = get_thread_address(config)
        checkpoint_id = checkpoint["id"]
        # Serialize everything first: a bad value raises before the transaction starts.
        blobs = [
            (thread_id, ns, channel, _vkey(version), blob.kind,
             None if blob.base_version is None else _vkey(blob.base_version), blob.type_tag, blob.data)
            for channel, version, blob in encode_channels(self.serde, checkpoint, new_versions)
        ]
        type_tag, header = encode_checkpoint(self.serde, checkpoint)
        meta_type, meta = encode_metadata(self.serde, metadata)
        meta_value: bytes | str = meta.decode() if meta_type == "json" else meta
        row = (thread_id, ns, checkpoint_id, parent_id, type_tag, header, meta_type, meta_value,
               guard.writer, int(guard.open_turn))  # fmt: skip

        def write(conn: sqlite3.Connection) -> None:
            # Inside BEGIN IMMEDIATE: no other writer can move the head between check and write.
            if guard.needs_head(parent_id):
                guard.check(
                    thread_id,
                    parent_id,
                    checkpoint_id,
                    self._head(conn, thread_id, ns, guard.starts_turn),
                    ns,
                )
            if blobs:
                conn.executemany("INSERT OR REPLACE INTO checkpoint_blobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", blobs)
            conn.execute(
                f"INSERT OR REPLACE INTO checkpoint_snapshots ({_SNAPSHOT_COLUMNS}, writer, open_turn, "
                f"created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_NOW})",
                row,
            )

        return write, checkpoint_config(thread_id, ns, checkpoint_id)

    @staticmethod
    def _head(conn: sqlite3.Connection, thread_id: str, ns: str, turn: bool) -> Head | None:
        """The thread's latest checkpoint, as the concurrency rule reads it (its turn only if ``turn``)."""
        if not turn:  # most puts continue a turn: only the latest id matters
            found = conn.execute(
                "SELECT checkpoint_id FROM checkpoint_snapshots WHERE thread_id = ? AND checkpoint_ns = ? "
                "ORDER BY checkpoint_id DESC LIMIT 1",
                (thread_id, ns),
            ).fetchone()
            return None if found is None else Head(found[0], "", False, 0.0, False)
        marks = ", ".join("?" for _ in PAUSED_CHANNELS)
        row = conn.execute(
            f"SELECT s.checkpoint_id, s.writer, s.open_turn, {_NOW} - s.created_at, "
            "EXISTS (SELECT 1 FROM checkpoint_writes w WHERE w.thread_id = s.thread_id AND "
            "w.checkpoint_ns = s.checkpoint_ns AND w.checkpoint_id = s.checkpoint_id AND "
            f"w.channel IN ({marks})) FROM checkpoint_snapshots s WHERE s.thread_id = ? AND "
            "s.checkpoint_ns = ? ORDER BY s.checkpoint_id DESC LIMIT 1",
            (*PAUSED_CHANNELS, thread_id, ns),
        ).fetchone()
        if row is None:
            return None
        return Head(row[0], row[1], bool(row[2]), float(row[3]), bool(row[4]))

    def _put_writes_op(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> None:
        """Store the writes of task ``task_id`` against the checkpoint in ``config``."""
        self._write(self._writing(config, writes, task_id, task_path))

    def _writing(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> Callable[[sqlite3.Connection], None]:
        """What storing a task's writes does inside a transaction (values encoded now)."""
        thread_id, ns, checkpoint_id = writes_address(config)
        special: list[tuple[Any, ...]] = []
        ordinary: list[tuple[Any, ...]] = []
        for idx, channel, type_tag, data in encode_writes(self.serde, writes):
            row = (thread_id, ns, checkpoint_id, task_id, idx, channel, type_tag, data, task_path)
            (special if idx < 0 else ordinary).append(row)

        def write(conn: sqlite3.Connection) -> None:
            # Special writes replace; ordinary writes keep the first copy (a retried call is a no-op).
            columns = "thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, data, task_path"
            if ordinary:
                conn.executemany(f"INSERT OR IGNORE INTO checkpoint_writes ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ordinary)
            if special:
                conn.executemany(
                    f"INSERT INTO checkpoint_writes ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET "
                    "channel = excluded.channel, type = excluded.type, data = excluded.data, task_path = excluded.task_path",
                    special,
                )

        return write

    def _release_turn_op(self, thread_id: str, ns: str, checkpoint_id: str, writer: str) -> None:
        """The writer's turn at this checkpoint stopped: it no longer holds the thread."""
        self._write(
            lambda conn: conn.execute(
                "UPDATE checkpoint_snapshots SET open_turn = 0 WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ? AND writer = ? AND open_turn = 1",
                (thread_id, ns, checkpoint_id, writer),
            )
        )

    def _delete_thread_op(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in every namespace."""

        def write(conn: sqlite3.Connection) -> None:
            for table in ("checkpoint_snapshots", "checkpoint_blobs", "checkpoint_writes"):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (str(thread_id),))

        self._write(write)
