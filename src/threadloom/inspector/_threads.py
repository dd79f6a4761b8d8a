"""Finding threads: the server's thread records, or the checkpointer itself.

``threadloom serve`` keeps one record per thread in the store (metadata, owner,
status, update time), so the list pages newest first in the store. A database
written without the server has only checkpoints: every thread starts with an
input checkpoint at step -1, so listing those (a metadata filter the savers
answer in SQL) pages threads newest started first, reading one small checkpoint
per thread; the latest checkpoint's id (a uuid6, hence its time) comes from
``peek_latest``, which reads no values.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from threadloom.inspector._access import Backends, Viewer

__all__ = ["SERVER_THREADS", "ThreadRow", "find_thread", "list_threads", "uuid6_time"]

SERVER_THREADS = ("threadloom_server", "threads")
"""Where ``threadloom serve`` keeps its thread records in the store."""


@dataclass
class ThreadRow:
    """One thread as the list shows it."""

    thread_id: str
    updated_at: str | None = None
    status: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None

    @property
    def graph_id(self) -> str | None:
        graph_id = self.metadata.get("graph_id")
        return graph_id if isinstance(graph_id, str) else None


def _record_row(value: Mapping[str, Any]) -> ThreadRow:
    return ThreadRow(
        thread_id=str(value.get("thread_id")),
        updated_at=value.get("updated_at"),
        started_at=value.get("created_at"),
        status=value.get("status"),
        metadata=dict(value.get("metadata") or {}),
    )


def _record_filter(viewer: Viewer, metadata: Mapping[str, Any]) -> dict[str, Any]:
    scope = {f"metadata.{k}": v for k, v in (viewer.thread_filter or {}).items()}
    return {**{f"metadata.{k}": v for k, v in metadata.items()}, **scope}


def list_threads(
    backends: Backends,
    viewer: Viewer,
    *,
    metadata: Mapping[str, Any],
    limit: int,
    offset: int,
) -> tuple[list[ThreadRow], bool]:
    """A page of threads, newest first, and whether more follow."""
    if backends.threads is not None:
        items = backends.store.search(
            backends.threads,
            filter=_record_filter(viewer, metadata) or None,
            limit=limit + 1,
            offset=offset,
            refresh_ttl=False,
        )
        rows = [_record_row(item.value) for item in items]
        return rows[:limit], len(rows) > limit
    saver = backends.checkpointer
    firsts = list(
        saver.list(
            {"configurable": {"checkpoint_ns": ""}},
            filter={**metadata, "step": -1},
            limit=offset + limit + 1,
        )
    )[offset:]
    rows = [_checkpoint_row(saver, tup) for tup in firsts[:limit]]
    return rows, len(firsts) > limit


def find_thread(backends: Backends, viewer: Viewer, thread_id: str) -> ThreadRow | None:
    """The thread ``thread_id`` if it exists and the viewer may see it."""
    if backends.threads is not None:
        item = backends.store.get(backends.threads, thread_id, refresh_ttl=False)
        if item is None:
            return None
        row = _record_row(item.value)
        for key, cond in (viewer.thread_filter or {}).items():
            if not _matches(row.metadata.get(key), cond):
                return None
        return row
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    first = next(iter(backends.checkpointer.list(config, filter={"step": -1}, limit=1)), None)
    if first is not None:
        return _checkpoint_row(backends.checkpointer, first)
    if backends.checkpointer.peek_latest(config) is None:
        return None
    return ThreadRow(thread_id=thread_id)  # a thread that did not start with an input


def _checkpoint_row(saver: Any, first: Any) -> ThreadRow:
    """A thread found by its first checkpoint: started then, updated at its latest one."""
    thread_id = first.config["configurable"]["thread_id"]
    latest = saver.peek_latest({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    updated = first.checkpoint.get("ts")
    status = None
    if latest is not None and latest[0] != first.checkpoint.get("id"):
        updated = uuid6_time(latest[0]) or updated
        status = "pending writes" if latest[1] else None
    return ThreadRow(
        thread_id=thread_id,
        updated_at=updated,
        status=status,
        # The engine's own keys say nothing about the thread.
        metadata={
            k: v
            for k, v in (first.metadata or {}).items()
            if k not in ("step", "source", "parents")
        },
        started_at=first.checkpoint.get("ts"),
    )


_UUID_EPOCH = 0x01B21DD213814000  # 100-ns intervals from 1582-10-15 to 1970-01-01


def uuid6_time(checkpoint_id: str) -> str | None:
    """When a checkpoint with this id (a uuid6, as the engine makes them) was written."""
    try:
        value = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if value.version != 6:
        return None
    top = value.int >> 64
    ticks = ((top >> 16) << 12) | (top & 0x0FFF)
    seconds = (ticks - _UUID_EPOCH) / 10_000_000
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def _matches(actual: Any, cond: Any) -> bool:
    """An auth condition (``value``, ``$eq``, ``$ne``, ``$in``); an unknown one never matches."""
    plain = not (isinstance(cond, dict) and all(str(k).startswith("$") for k in cond))
    for op, expected in ({"$eq": cond} if plain else cond).items():
        if op == "$eq":
            ok = actual == expected
        elif op == "$ne":
            ok = actual != expected
        elif op == "$in":
            ok = actual in list(expected)
        else:
            ok = False
        if not ok:
            return False
    return True
