"""Applying memory changes: dedup, history, and one store batch.

The tools and the memory manager describe what they want as
:class:`MemoryChange` objects; :func:`apply_changes` turns them into store
writes. A ``create`` that duplicates an existing memory becomes an update of
it; every update and delete first copies the old version into the history
namespace; all the writes go to the store in a single ``batch`` call.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from threadloom.errors import MemoryNotFoundError
from threadloom.memory.dedup import DedupConfig, find_duplicate, normalized_text
from threadloom.memory.history import archive_op
from threadloom.store.base import BaseStore, GetOp, Item, Op, PutOp

__all__ = ["AppliedChange", "MemoryChange", "apply_changes", "memory_value"]

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class MemoryChange:
    """One change asked for: create a memory, or update or delete the memory ``key``."""

    action: Action
    content: Any = None
    key: str | None = None
    kind: str = "Memory"


@dataclass(frozen=True)
class AppliedChange:
    """What a change did to the store.

    ``action`` is what was written: ``"create"``, ``"update"``, ``"delete"``, or
    ``"unchanged"`` when the memory already said exactly that. ``deduplicated``
    is true when a ``create`` was turned into an update of a duplicate.
    """

    action: Literal["create", "update", "delete", "unchanged"]
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    deduplicated: bool = False


def memory_value(content: Any, kind: str = "Memory") -> dict[str, Any]:
    """The stored value of a memory: its kind and its content (text or a dict)."""
    return {"kind": kind, "content": content}


def apply_changes(
    store: BaseStore,
    namespace: tuple[str, ...],
    changes: Sequence[MemoryChange],
    *,
    dedup: DedupConfig | None = None,
) -> list[AppliedChange]:
    """Apply ``changes`` to the memories in ``namespace``; all writes in one batch.

    Raises :class:`~threadloom.errors.MemoryNotFoundError` (and writes nothing)
    when an update or delete names a memory that does not exist.
    """
    dedup = dedup if dedup is not None else DedupConfig()
    now = datetime.now(timezone.utc)
    named = [change.key for change in changes if change.key is not None]
    found = store.batch([GetOp(namespace, key, False) for key in named])
    # The state as the batch will leave it, so later changes see earlier ones.
    current: dict[str, Item | None] = {
        key: item if isinstance(item, Item) else None
        for key, item in zip(named, found, strict=True)
    }
    created: dict[str, Item] = {}
    ops: list[Op] = []
    applied: list[AppliedChange] = []
    for change in changes:
        if change.action == "create":
            result = _create(store, namespace, change, dedup, current, created, now, ops)
        else:
            result = _modify(namespace, change, current, now, ops)
        applied.append(result)
    if ops:
        store.batch(ops)
    return applied


def _create(
    store: BaseStore,
    namespace: tuple[str, ...],
    change: MemoryChange,
    dedup: DedupConfig,
    current: dict[str, Item | None],
    created: dict[str, Item],
    now: datetime,
    ops: list[Op],
) -> AppliedChange:
    value = memory_value(change.content, change.kind)
    gone = frozenset(key for key, item in current.items() if item is None)
    duplicate = _duplicate_in_batch(value, created) or find_duplicate(
        store, namespace, value, dedup, exclude=gone
    )
    if duplicate is None:
        key = change.key or str(uuid.uuid4())
        item = Item(value=value, key=key, namespace=namespace, created_at=now, updated_at=now)
        created[key] = current[key] = item
        ops.append(PutOp(namespace, key, value))
        return AppliedChange("create", namespace, key, value)
    duplicate = current.get(duplicate.key) or duplicate
    if duplicate.value == value or _same_text(duplicate.value, value):
        return AppliedChange("unchanged", namespace, duplicate.key, value, deduplicated=True)
    if duplicate.key not in created:
        ops.append(archive_op(duplicate, reason="dedup", replaced_by=value, now=now))
    ops.append(PutOp(namespace, duplicate.key, value))
    _remember(duplicate, value, now, current, created)
    return AppliedChange("update", namespace, duplicate.key, value, deduplicated=True)


def _same_text(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same kind and the same text up to case and spacing: rewriting it would add nothing."""
    return a.get("kind") == b.get("kind") and normalized_text(a.get("content")) == normalized_text(
        b.get("content")
    )


def _duplicate_in_batch(value: dict[str, Any], created: dict[str, Item]) -> Item | None:
    """A memory created earlier in the same batch with the same text (the store cannot see it yet)."""
    return next((item for item in created.values() if _same_text(item.value, value)), None)


def _modify(
    namespace: tuple[str, ...],
    change: MemoryChange,
    current: dict[str, Item | None],
    now: datetime,
    ops: list[Op],
) -> AppliedChange:
    key = change.key
    existing = current.get(key) if key is not None else None
    if key is None or existing is None:
        raise MemoryNotFoundError(
            f"Cannot {change.action} memory {key!r}: no such memory in {namespace!r}"
        )
    if change.action == "delete":
        ops.append(archive_op(existing, reason="delete", replaced_by=None, now=now))
        ops.append(PutOp(namespace, key, None))
        current[key] = None
        return AppliedChange("delete", namespace, key, None)
    value = memory_value(change.content, change.kind)
    if existing.value == value:
        return AppliedChange("unchanged", namespace, key, value)
    ops.append(archive_op(existing, reason="update", replaced_by=value, now=now))
    ops.append(PutOp(namespace, key, value))
    current[key] = Item(
        value=value,
        key=key,
        namespace=namespace,
        created_at=existing.created_at,
        updated_at=now,
    )
    return AppliedChange("update", namespace, key, value)


def _remember(
    old: Item,
    value: dict[str, Any],
    now: datetime,
    current: dict[str, Item | None],
    created: dict[str, Item],
) -> None:
    item = Item(
        value=value,
        key=old.key,
        namespace=old.namespace,
        created_at=old.created_at,
        updated_at=now,
    )
    current[old.key] = item
    if old.key in created:
        created[old.key] = item
