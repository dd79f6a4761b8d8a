"""Finding threads: the server's thread records, or the checkpointer itself.

``threadloom serve`` keeps one record per thread in the store (metadata, owner,
status, update time), so the list pages newest first in the store. A database
written without the server has only checkpoints: threads are then the distinct
thread ids of the newest checkpoints, scanned only as far as the page needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from threadloom.inspector._access import Backends, Viewer

__all__ = ["SERVER_THREADS", "ThreadRow", "find_thread", "list_threads"]

SERVER_THREADS = ("threadloom_server", "threads")
"""Where ``threadloom serve`` keeps its thread records in the store."""


@dataclass
class ThreadRow:
    """One thread as the list shows it."""

    thread_id: str
    updated_at: str | None = None
    status: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def graph_id(self) -> str | None:
        graph_id = self.metadata.get("graph_id")
        return graph_id if isinstance(graph_id, str) else None


def _record_row(value: Mapping[str, Any]) -> ThreadRow:
    return ThreadRow(
        thread_id=str(value.get("thread_id")),
        updated_at=value.get("updated_at"),
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
        )
        rows = [_record_row(item.value) for item in items]
        return rows[:limit], len(rows) > limit
    seen: dict[str, ThreadRow] = {}
    for tup in backends.checkpointer.list(None, filter=dict(metadata) or None):
        conf = tup.config["configurable"]
        if conf.get("checkpoint_ns") or conf["thread_id"] in seen:
            continue
        seen[conf["thread_id"]] = ThreadRow(
            thread_id=conf["thread_id"],
            updated_at=tup.checkpoint.get("ts"),
            metadata=dict(tup.metadata or {}),
        )
        if len(seen) > offset + limit:
            break
    rows = list(seen.values())[offset:]
    return rows[:limit], len(rows) > limit


def find_thread(backends: Backends, viewer: Viewer, thread_id: str) -> ThreadRow | None:
    """The thread ``thread_id`` if it exists and the viewer may see it."""
    if backends.threads is not None:
        item = backends.store.get(backends.threads, thread_id)
        if item is None:
            return None
        row = _record_row(item.value)
        for key, cond in (viewer.thread_filter or {}).items():
            if not _matches(row.metadata.get(key), cond):
                return None
        return row
    tup = backends.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    if tup is None:
        return None
    return ThreadRow(thread_id=thread_id, updated_at=tup.checkpoint.get("ts"), metadata=dict(tup.metadata or {}))


def _matches(actual: Any, cond: Any) -> bool:
    """An auth condition (``value``, ``$eq``, ``$ne``, ``$in``); an unknown one never matches."""
    ops = cond if isinstance(cond, dict) and all(str(k).startswith("$") for k in cond) else {"$eq": cond}
    for op, expected in ops.items():
        ok = {
            "$eq": lambda: actual == expected,
            "$ne": lambda: actual != expected,
            "$in": lambda: actual in list(expected),
        }.get(op, lambda: False)()
        if not ok:
            return False
    return True
