"""History, not loss: every superseded or deleted memory keeps its previous version.

When the memory tools or the memory manager update or delete a memory, the
version it had is copied to the reserved namespace ``("memory_history",
*namespace)``: its value, its timestamps, when it was superseded, why
(``"update"``, ``"dedup"`` or ``"delete"``) and what replaced it. Ordinary
searches of ``namespace`` never see these copies; :func:`search_memories`
returns them only with ``include_superseded=True``, and :func:`get_history`
lists a memory's versions, oldest first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from threadloom.errors import IndexNotConfiguredError
from threadloom.store.base import BaseStore, Item, PutOp, SearchItem

__all__ = [
    "HISTORY_LABEL",
    "MemoryVersion",
    "archive_op",
    "get_history",
    "history_namespace",
    "search_memories",
]

HISTORY_LABEL = "memory_history"
"""First label of the namespaces that hold superseded versions."""

Reason = Literal["update", "dedup", "delete"]

# Enough for any one memory's history; a page bigger than this is read in several.
_PAGE = 500


def history_namespace(namespace: tuple[str, ...]) -> tuple[str, ...]:
    """Where the superseded versions of the memories in ``namespace`` are kept."""
    return (HISTORY_LABEL, *namespace)


@dataclass(frozen=True)
class MemoryVersion:
    """One superseded version of a memory."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    superseded_at: datetime
    reason: Reason
    replaced_by: dict[str, Any] | None
    """The value that replaced this version; ``None`` when the memory was deleted."""


def archive_op(
    item: Item, *, reason: Reason, replaced_by: dict[str, Any] | None, now: datetime
) -> PutOp:
    """The write that keeps ``item``'s current version in its history namespace."""
    record = {
        **item.value,
        "memory_key": item.key,
        "memory_created_at": item.created_at.isoformat(),
        "memory_updated_at": item.updated_at.isoformat(),
        "superseded_at": now.isoformat(),
        "reason": reason,
        "replaced_by": replaced_by,
    }
    # Sortable keys: time first, then a random tail so two versions never collide.
    key = f"{item.key}@{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
    # Only the old content is indexed: a search must not find a version by its replacement.
    index: list[str] | None = ["content"] if "content" in item.value else None
    return PutOp(history_namespace(item.namespace), key, record, index)


def _version(item: Item) -> MemoryVersion:
    record = dict(item.value)
    meta = {
        name: record.pop(name)
        for name in (
            "memory_key",
            "memory_created_at",
            "memory_updated_at",
            "superseded_at",
            "reason",
            "replaced_by",
        )
    }
    return MemoryVersion(
        namespace=item.namespace[1:],
        key=meta["memory_key"],
        value=record,
        created_at=datetime.fromisoformat(meta["memory_created_at"]),
        updated_at=datetime.fromisoformat(meta["memory_updated_at"]),
        superseded_at=datetime.fromisoformat(meta["superseded_at"]),
        reason=meta["reason"],
        replaced_by=meta["replaced_by"],
    )


def get_history(store: BaseStore, namespace: tuple[str, ...], key: str) -> list[MemoryVersion]:
    """The superseded versions of the memory ``key`` in ``namespace``, oldest first."""
    versions: list[MemoryVersion] = []
    offset = 0
    while True:
        page = store.search(
            history_namespace(namespace),
            filter={"memory_key": key},
            limit=_PAGE,
            offset=offset,
            refresh_ttl=False,
        )
        versions.extend(_version(item) for item in page if item.namespace[1:] == namespace)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    versions.sort(key=lambda version: version.superseded_at)
    return versions


def search_memories(
    store: BaseStore,
    namespace: tuple[str, ...],
    *,
    query: str | None = None,
    filter: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    include_superseded: bool = False,
) -> list[SearchItem]:
    """Search the memories under ``namespace``; superseded versions only when asked for.

    With ``include_superseded=True`` the superseded versions (from the history
    namespace, each with ``superseded_at`` and ``replaced_by`` in its value)
    are ranked together with the current memories.
    """
    current = store.search(namespace, query=query, filter=filter, limit=limit + offset)
    if not include_superseded:
        return current[offset : offset + limit]
    try:
        old = store.search(
            history_namespace(namespace), query=query, filter=filter, limit=limit + offset
        )
    except IndexNotConfiguredError:  # pragma: no cover - the first search raised already
        old = []
    merged = current + old
    if query is None:
        merged.sort(key=lambda item: item.updated_at, reverse=True)
    else:
        merged.sort(
            key=lambda item: item.score if item.score is not None else float("-inf"), reverse=True
        )
    return merged[offset : offset + limit]
