"""Whole items out of and into the SQLite file: the rows behind ``dump_items`` and ``load_items``.

A dump reads the live rows under a prefix in ``seq`` order (the update
order), with their vectors when asked; a load, inside the store's write
transaction, puts each item as a batch would and then writes back the
item's own timestamps and expiry. The put's own ``index`` is read back from
``index_paths``: the store's fields mean ``None``, no paths in a store that
keeps keyword fields mean ``False``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from threadloom.store._dump import LoadedItem, StoredItem, as_lists, from_epoch, utc
from threadloom.store._jsontext import loads as load_json
from threadloom.store.sqlite._batch import EPOCH, LIVE, stored_dims
from threadloom.store.sqlite._sql import prefix_where, split_namespace
from threadloom.store.sqlite._vector_sync import stored_rows

__all__ = ["dump_rows", "restamp"]


def _index_of(
    paths_json: str | None, default_paths: list[str], keyword_fields: bool
) -> Literal[False] | list[str] | None:
    if paths_json is None:
        return None
    paths = json.loads(paths_json)
    if paths == default_paths:
        return None
    if not paths:
        return False if keyword_fields else None
    return list(paths)


def dump_rows(
    conn: sqlite3.Connection,
    namespace_prefix: tuple[str, ...],
    now: float,
    *,
    vectors: bool,
    default_paths: list[str],
    keyword_fields: bool,
) -> list[StoredItem]:
    """The live items under ``namespace_prefix``, oldest update first."""
    where, params = prefix_where(namespace_prefix, "s.prefix")
    dims = stored_dims(conn) if vectors else None
    blob = "v.vectors" if vectors else "NULL"
    rows = conn.execute(
        "SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at, s.index_paths, "
        f"s.ttl_minutes, s.expires_at, {blob} FROM store_items s "
        + ("LEFT JOIN store_vectors v ON v.item_id = s.id " if vectors else "")
        + f"WHERE {where} AND {LIVE.replace('expires_at', 's.expires_at')} ORDER BY s.seq",
        [*params, now],
    ).fetchall()
    items = []
    for prefix, key, value, created, updated, paths, ttl, expires, data in rows:
        found: list[list[float]] | None = None
        if vectors:
            found = []
            if data is not None and dims is not None:
                found = as_lists(stored_rows(data, dims, (prefix, key)))
        items.append(
            StoredItem(
                split_namespace(prefix),
                key,
                load_json(value),
                utc(datetime.fromisoformat(created)),
                utc(datetime.fromisoformat(updated)),
                _index_of(paths, default_paths, keyword_fields),
                ttl,
                from_epoch(expires),
                found,
            )
        )
    return items


def restamp(conn: sqlite3.Connection, loaded: Sequence[LoadedItem], prefixes: list[str]) -> None:
    """Give the just-put rows their own times and expiry, and keep the stamp counter ahead."""
    conn.executemany(
        "UPDATE store_items SET created_at = ?, updated_at = ?, expires_at = ? "
        "WHERE prefix = ? AND key = ?",
        [
            (
                entry.created_at.isoformat(),
                entry.updated_at.isoformat(),
                entry.expires_at.timestamp() if entry.expires_at is not None else None,
                prefix,
                entry.op.key,
            )
            for entry, prefix in zip(loaded, prefixes, strict=True)
        ],
    )
    latest = max((entry.updated_at for entry in loaded), default=None)
    if latest is not None:
        micros = (latest - EPOCH) // timedelta(microseconds=1)
        # Later puts must sort after the loaded items.
        conn.execute("UPDATE store_meta SET value = max(value, ?) WHERE name = 'stamp'", (micros,))
