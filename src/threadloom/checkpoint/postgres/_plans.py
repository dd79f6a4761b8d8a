"""Tables and SQL of the PostgreSQL checkpointer, written once for sync and async.

Tables: ``threadloom_checkpoints`` (one row per checkpoint: its header without
channel values, metadata, parent), ``threadloom_checkpoint_blobs`` (one row
per channel version: a full value, a delta on a base version, or "empty") and
``threadloom_checkpoint_writes`` (pending writes, in the order first stored).

A delta channel is read with one recursive query that follows each delta to
its base, so reading a thread costs one round trip for all channels, however
long the chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from threadloom._postgres import Migration, Plan, Query
from threadloom.checkpoint._common import (
    PAUSED_CHANNELS,
    Head,
    PutGuard,
    attach_sends,
    needs_sends,
    stored_tuple,
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
    Checkpoint,
    CheckpointTuple,
    StoredBlob,
    decode_channels,
)
from threadloom.checkpoint.base._core import TASKS
from threadloom.checkpoint.serde.encrypted import EncryptedSerializer
from threadloom.errors import SerializationError

__all__ = [
    "MIGRATIONS",
    "delete_plan",
    "metadata_json",
    "peek_plan",
    "prune_plan",
    "put_plan",
    "put_writes_plan",
    "read_plan",
    "release_turn_plan",
    "vkey",
]

MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE IF NOT EXISTS threadloom_checkpoints (
        thread_id text NOT NULL,
        checkpoint_ns text NOT NULL,
        checkpoint_id text COLLATE "C" NOT NULL,
        parent_checkpoint_id text,
        type text NOT NULL,
        checkpoint bytea NOT NULL,
        metadata_type text NOT NULL,
        metadata bytea NOT NULL,
        metadata_json jsonb NOT NULL,
        channel_versions jsonb NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS threadloom_checkpoint_blobs (
        thread_id text NOT NULL,
        checkpoint_ns text NOT NULL,
        channel text NOT NULL,
        version text NOT NULL,
        kind text NOT NULL,
        base_version text,
        type text NOT NULL,
        blob bytea NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS threadloom_checkpoint_writes (
        thread_id text NOT NULL,
        checkpoint_ns text NOT NULL,
        checkpoint_id text NOT NULL,
        task_id text NOT NULL,
        idx integer NOT NULL,
        channel text NOT NULL,
        type text NOT NULL,
        blob bytea NOT NULL,
        task_path text NOT NULL DEFAULT '',
        seq bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    )
    """,
    # Who wrote a checkpoint, when, and whether its turn still has nodes to run.
    """
    ALTER TABLE threadloom_checkpoints
        ADD COLUMN IF NOT EXISTS writer text NOT NULL DEFAULT '',
        ADD COLUMN IF NOT EXISTS open_turn boolean NOT NULL DEFAULT false,
        ADD COLUMN IF NOT EXISTS created_at timestamptz NOT NULL DEFAULT now()
    """,
]


def vkey(version: ChannelVersion) -> str:
    """A channel version as stored text: numbers as floats, so ``1`` and ``1.0`` agree."""
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        return repr(float(version))
    return str(version)


def metadata_json(serde: Any, value: Any) -> Any:
    """The JSON form of metadata (or a filter value), as the serializer writes it.

    Under an :class:`EncryptedSerializer` this is its inner serializer's plain JSON:
    the queryable copy of the metadata is not encrypted (the stored one is).
    """
    if isinstance(serde, EncryptedSerializer):
        serde = serde.serde
    return json.loads(serde.dumps(value))


def _lock(thread_id: str) -> Query:
    # Every writer of a thread takes this lock, so "is my parent still the latest?" holds until commit.
    return Query("SELECT pg_advisory_xact_lock(hashtext('threadloom:' || %s))", (thread_id,))


def put_plan(
    thread_id: str,
    ns: str,
    parent_id: str | None,
    checkpoint_id: str,
    header: tuple[str, bytes],
    metadata: tuple[str, bytes],
    meta_json: Any,
    blobs: Sequence[tuple[str, ChannelVersion, StoredBlob]],
    versions: dict[str, str],
    guard: PutGuard,
) -> Plan[None]:
    """Store a checkpoint and its new blobs, after the concurrency rule's check (see ``PutGuard``)."""
    yield _lock(thread_id)
    if guard.needs_head(parent_id):
        marks = ", ".join("%s" for _ in PAUSED_CHANNELS)
        found = yield Query(
            "SELECT c.checkpoint_id, c.writer, c.open_turn, "
            "extract(epoch FROM now() - c.created_at)::float8, EXISTS (SELECT 1 FROM "
            "threadloom_checkpoint_writes w WHERE w.thread_id = c.thread_id AND "
            "w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id AND "
            f"w.channel IN ({marks})) FROM threadloom_checkpoints c "
            "WHERE c.thread_id = %s AND c.checkpoint_ns = %s ORDER BY c.checkpoint_id DESC LIMIT 1",
            (*PAUSED_CHANNELS, thread_id, ns),
        )
        head = Head(*found.rows[0]) if found.rows else None
        guard.check(thread_id, parent_id, checkpoint_id, head, ns)
    try:
        # One statement writes the new blobs and the checkpoint row.
        yield Query(
            """
            WITH blobs AS (
                INSERT INTO threadloom_checkpoint_blobs
                    (thread_id, checkpoint_ns, channel, version, kind, base_version, type, blob)
                SELECT %(t)s, %(n)s, c, v, k, b, y, d
                FROM unnest(%(c)s::text[], %(v)s::text[], %(k)s::text[], %(b)s::text[],
                            %(y)s::text[], %(d)s::bytea[]) AS x(c, v, k, b, y, d)
                ON CONFLICT DO NOTHING
            )
            INSERT INTO threadloom_checkpoints (thread_id, checkpoint_ns, checkpoint_id,
                parent_checkpoint_id, type, checkpoint, metadata_type, metadata, metadata_json,
                channel_versions, writer, open_turn)
            VALUES (%(t)s, %(n)s, %(id)s, %(parent)s, %(ht)s, %(h)s, %(mt)s, %(m)s, %(mj)s,
                    %(cv)s, %(w)s, %(open)s)
            ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
                parent_checkpoint_id = EXCLUDED.parent_checkpoint_id, type = EXCLUDED.type,
                checkpoint = EXCLUDED.checkpoint, metadata_type = EXCLUDED.metadata_type,
                metadata = EXCLUDED.metadata, metadata_json = EXCLUDED.metadata_json,
                channel_versions = EXCLUDED.channel_versions, writer = EXCLUDED.writer,
                open_turn = EXCLUDED.open_turn
            """,
            {
                "t": thread_id,
                "n": ns,
                "c": [c for c, _, _ in blobs],
                "v": [vkey(v) for _, v, _ in blobs],
                "k": [b.kind for _, _, b in blobs],
                "b": [
                    None if b.base_version is None else vkey(b.base_version) for _, _, b in blobs
                ],
                "y": [b.type_tag for _, _, b in blobs],
                "d": [b.data for _, _, b in blobs],
                "id": checkpoint_id,
                "parent": parent_id,
                "ht": header[0],
                "h": header[1],
                "mt": metadata[0],
                "m": metadata[1],
                "mj": Jsonb(meta_json),
                "cv": Jsonb(versions),
                "w": guard.writer,
                "open": guard.open_turn,
            },
        )
    except psycopg.DataError as error:
        raise SerializationError(
            f"PostgreSQL cannot store this checkpoint's metadata: {error}"
        ) from None


def put_writes_plan(
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    task_id: str,
    task_path: str,
    rows: Sequence[tuple[int, str, str, bytes]],
) -> Plan[None]:
    """Store a task's writes: special ones (negative idx) replace, others keep the first copy."""
    for special in (True, False):
        chosen = [r for r in rows if (r[0] < 0) is special]
        if not chosen:
            continue
        action = (
            "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, "
            "task_path = EXCLUDED.task_path"
            if special
            else "DO NOTHING"
        )
        yield Query(
            "INSERT INTO threadloom_checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
            "task_id, idx, channel, type, blob, task_path) "
            "SELECT %s, %s, %s, %s, i, c, t, d, %s "
            "FROM unnest(%s::int[], %s::text[], %s::text[], %s::bytea[]) AS x(i, c, t, d) "
            f"ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) {action}",
            (
                thread_id, ns, checkpoint_id, task_id, task_path,
                [r[0] for r in chosen], [r[1] for r in chosen], [r[2] for r in chosen],
                [r[3] for r in chosen],
            ),
        )  # fmt: skip


_ROW = (
    "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
    "metadata_type, metadata FROM threadloom_checkpoints "
)


def read_plan(
    serde: Any,
    *,
    get_next_version: Callable[[ChannelVersion | None, Any], ChannelVersion],
    thread_id: str | None,
    ns: str | None,
    checkpoint_id: str | None,
    filter: dict[str, Any] | None = None,
    before: str | None = None,
    limit: int | None = None,
) -> Plan[list[CheckpointTuple]]:
    """Checkpoints newest first, with channel values (delta chains joined) and pending writes."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    for column, value in (
        ("thread_id", thread_id),
        ("checkpoint_ns", ns),
        ("checkpoint_id", checkpoint_id),
    ):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if before is not None:
        where.append("checkpoint_id < %s")
        params.append(before)
    for key, value in (filter or {}).items():
        if isinstance(key, str) and "." in key:
            # A dotted key the metadata lacks as such is a path into nested objects.
            where.append("COALESCE(metadata_json -> %s, metadata_json #> %s) = %s::jsonb")
            params += [key, key.split("."), Jsonb(metadata_json(serde, value))]
        else:
            where.append("metadata_json -> %s = %s::jsonb")
            params += [key, Jsonb(metadata_json(serde, value))]
    sql = _ROW + "WHERE " + " AND ".join(where) + " ORDER BY checkpoint_id DESC"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    found = yield Query(sql, params)
    if not found.rows:
        return []
    headers = []
    for row in found.rows:
        with stored_context(row[0], row[1], row[2]):
            headers.append((row, check_header(load_value(serde, (row[4], bytes(row[5])), "checkpoint header"))))
    wanted = [
        (row[0], row[1], channel, vkey(version))
        for row, header in headers
        for channel, version in header["channel_versions"].items()
    ]
    blobs: dict[tuple[str, str, str, str], StoredBlob] = {}
    if wanted:
        chain = yield Query(
            """
            WITH RECURSIVE chain AS (
                SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.kind, b.base_version
                FROM threadloom_checkpoint_blobs b
                JOIN unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS w(t, n, c, v)
                  ON b.thread_id = w.t AND b.checkpoint_ns = w.n AND b.channel = w.c AND b.version = w.v
                UNION
                SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.kind, b.base_version
                FROM chain c JOIN threadloom_checkpoint_blobs b
                  ON b.thread_id = c.thread_id AND b.checkpoint_ns = c.checkpoint_ns
                 AND b.channel = c.channel AND b.version = c.base_version
                WHERE c.kind = 'delta'
            )
            SELECT b.thread_id, b.checkpoint_ns, b.channel, b.version, b.kind, b.base_version,
                   b.type, b.blob
            FROM chain c JOIN threadloom_checkpoint_blobs b USING (thread_id, checkpoint_ns, channel, version)
            """,
            tuple(list(col) for col in zip(*wanted, strict=True)),
        )
        for t, n, c, v, kind, base, type_tag, data in chain.rows:
            blobs[(t, n, c, v)] = StoredBlob(kind, base, type_tag, bytes(data))
    keys = [(row[0], row[1], row[2]) for row, _ in headers]
    # Older (LangGraph) checkpoints also need their parent's pending sends (see needs_sends):
    # the parents join the same query, so no checkpoint costs an extra round trip.
    parents = {
        (row[0], row[1], row[3]) for row, header in headers if needs_sends(header, row[3])
    }
    own = set(keys)
    keys += [key for key in parents if key not in own]
    pending = yield Query(
        "SELECT w.thread_id, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.channel, w.type, w.blob "
        "FROM threadloom_checkpoint_writes w "
        "JOIN unnest(%s::text[], %s::text[], %s::text[]) AS k(t, n, i) "
        "ON w.thread_id = k.t AND w.checkpoint_ns = k.n AND w.checkpoint_id = k.i "
        "ORDER BY w.seq",
        tuple(list(col) for col in zip(*keys, strict=True)),
    )
    writes: dict[tuple[str, str, str], list[tuple[str, str, Any]]] = {}
    sends: dict[tuple[str, str, str], list[tuple[str, bytes]]] = {}
    for t, n, i, task, channel, type_tag, data in pending.rows:
        address = (t, n, i)
        with stored_context(t, n, i):
            if address in own:
                writes.setdefault(address, []).append(
                    load_write(serde, task, channel, (type_tag, bytes(data)))
                )
        if address in parents and channel == TASKS:  # decoded for each child below
            sends.setdefault(address, []).append((type_tag, bytes(data)))
    results = []
    caches: dict[tuple[str, str], ChainCache] = {}  # older chains are prefixes of newer ones
    for row, header in headers:
        t, n, i, parent = row[0], row[1], row[2], row[3]
        cache = caches.setdefault((t, n), ChainCache(vkey))

        def fetch(
            channel: str, version: ChannelVersion, t: str = t, n: str = n
        ) -> StoredBlob | None:
            return blobs.get((t, n, channel, vkey(version)))

        with stored_context(t, n, i):
            checkpoint: Checkpoint = header
            checkpoint["channel_values"] = decode_channels(serde, header["channel_versions"], fetch, cache)
            metadata = load_metadata(serde, (row[6], bytes(row[7])))
            if needs_sends(header, parent):
                stored = sends.get((t, n, parent), [])
                values = [load_value(serde, send, f"pending send {k}") for k, send in enumerate(stored)]
                attach_sends(checkpoint, values, get_next_version)
        results.append(
            stored_tuple(t, n, i, parent, checkpoint, metadata, writes.get((t, n, i), []))
        )
    return results


def peek_plan(thread_id: str, ns: str) -> Plan[tuple[str, bool] | None]:
    """``(latest checkpoint id, has pending writes)`` without reading any value."""
    found = yield Query(
        "SELECT c.checkpoint_id, EXISTS (SELECT 1 FROM threadloom_checkpoint_writes w "
        "WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = c.checkpoint_ns "
        "AND w.checkpoint_id = c.checkpoint_id) "
        "FROM threadloom_checkpoints c WHERE c.thread_id = %s AND c.checkpoint_ns = %s "
        "ORDER BY c.checkpoint_id DESC LIMIT 1",
        (thread_id, ns),
    )
    return (found.rows[0][0], bool(found.rows[0][1])) if found.rows else None


def release_turn_plan(thread_id: str, ns: str, checkpoint_id: str, writer: str) -> Plan[None]:
    """The writer's turn at this checkpoint stopped: it no longer holds the thread."""
    yield Query(
        "UPDATE threadloom_checkpoints SET open_turn = false WHERE thread_id = %s AND checkpoint_ns = %s "
        "AND checkpoint_id = %s AND writer = %s AND open_turn",
        (thread_id, ns, checkpoint_id, writer),
    )


def delete_plan(thread_ids: Sequence[str]) -> Plan[None]:
    """Delete every checkpoint, blob and write of the threads."""
    for thread_id in sorted(set(thread_ids)):
        yield _lock(thread_id)
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        yield Query(
            f"DELETE FROM threadloom_{table} WHERE thread_id = ANY(%s)", (list(thread_ids),)
        )


def prune_plan(thread_ids: Sequence[str]) -> Plan[None]:
    """Keep only each (thread, namespace)'s latest checkpoint, its writes and the blobs it reads."""
    ids = sorted(set(thread_ids))
    for thread_id in ids:
        yield _lock(thread_id)
    yield Query(
        "DELETE FROM threadloom_checkpoints c WHERE c.thread_id = ANY(%s) AND c.checkpoint_id <> "
        "(SELECT max(l.checkpoint_id) FROM threadloom_checkpoints l "
        " WHERE l.thread_id = c.thread_id AND l.checkpoint_ns = c.checkpoint_ns)",
        (ids,),
    )
    yield Query(
        "DELETE FROM threadloom_checkpoint_writes w WHERE w.thread_id = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM threadloom_checkpoints c WHERE c.thread_id = w.thread_id "
        " AND c.checkpoint_ns = w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)",
        (ids,),
    )
    # A kept checkpoint reads its channel versions and, for deltas, every base down the chain.
    yield Query(
        """
        WITH RECURSIVE live AS (
            SELECT c.thread_id, c.checkpoint_ns, v.key AS channel, v.value AS version
            FROM threadloom_checkpoints c, jsonb_each_text(c.channel_versions) v
            WHERE c.thread_id = ANY(%s)
            UNION
            SELECT b.thread_id, b.checkpoint_ns, b.channel, b.base_version
            FROM live l JOIN threadloom_checkpoint_blobs b
              ON b.thread_id = l.thread_id AND b.checkpoint_ns = l.checkpoint_ns
             AND b.channel = l.channel AND b.version = l.version
            WHERE b.kind = 'delta'
        )
        DELETE FROM threadloom_checkpoint_blobs b WHERE b.thread_id = ANY(%s) AND NOT EXISTS
            (SELECT 1 FROM live l WHERE l.thread_id = b.thread_id AND l.checkpoint_ns = b.checkpoint_ns
             AND l.channel = b.channel AND l.version = b.version)
        """,
        (ids, ids),
    )
