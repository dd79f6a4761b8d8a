"""Export and import memories as JSON lines, and re-embed them after a model change.

Each line is one item: ``{"namespace": [...], "key": ..., "value": {...},
"created_at": ..., "updated_at": ...}``. The history and reflection-queue
namespaces are ordinary namespaces, so an export of everything carries them
too. Import writes values, keys and namespaces exactly; the store stamps the
imported items with the time of the import (the public store API has no way
to set timestamps), and re-embeds them with its own embedder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Literal

from threadloom.errors import InvalidStoreInputError
from threadloom.memory.history import HISTORY_LABEL
from threadloom.memory.reflection import QUEUE_LABEL
from threadloom.store.base import BaseStore, Item, PutOp

__all__ = ["Progress", "export_memories", "import_memories", "reindex_memories", "to_jsonl"]

Progress = Callable[[int], None]
"""Called with the number of items done so far, after each page or batch."""

_PAGE = 500


def _namespaces(store: BaseStore, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    while True:
        page = store.list_namespaces(prefix=prefix or None, limit=_PAGE, offset=len(found))
        found.extend(page)
        if len(page) < _PAGE:
            return found


def _items(store: BaseStore, namespace: tuple[str, ...]) -> Iterator[Item]:
    offset = 0
    while True:
        page = store.search(namespace, limit=_PAGE, offset=offset, refresh_ttl=False)
        # A prefix search also returns deeper namespaces; those are listed on their own.
        yield from (item for item in page if item.namespace == namespace)
        if len(page) < _PAGE:
            return
        offset += _PAGE


def export_memories(
    store: BaseStore, namespace_prefix: tuple[str, ...] = (), *, progress: Progress | None = None
) -> Iterator[dict[str, Any]]:
    """Every item under ``namespace_prefix`` as a JSON-ready record, namespace by namespace."""
    done = 0
    for namespace in _namespaces(store, namespace_prefix):
        for item in _items(store, namespace):
            yield item.dict()
            done += 1
            if progress is not None and done % _PAGE == 0:
                progress(done)
    if progress is not None:
        progress(done)


def to_jsonl(record: dict[str, Any]) -> str:
    """One export record as a JSON line (keys sorted, so exports of equal data are equal)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def _parse(line: str | dict[str, Any], number: int) -> PutOp:
    try:
        record = json.loads(line) if isinstance(line, str) else line
        namespace = record["namespace"]
        key = record["key"]
        value = record["value"]
        for stamp in ("created_at", "updated_at"):
            if stamp in record:
                datetime.fromisoformat(record[stamp])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidStoreInputError(f"line {number}: not a memory export record ({exc})") from exc
    if not isinstance(namespace, list) or not isinstance(key, str) or not isinstance(value, dict):
        raise InvalidStoreInputError(
            f"line {number}: namespace must be a list, key a string and value an object"
        )
    return PutOp(tuple(namespace), key, value, _index_for(namespace))


def _index_for(namespace: list[str]) -> Literal[False] | list[str] | None:
    """How the memory layer indexes its own namespaces; the store's default for the rest."""
    if namespace and namespace[0] == QUEUE_LABEL:
        return False
    if namespace and namespace[0] == HISTORY_LABEL:
        return ["content"]
    return None


def import_memories(
    store: BaseStore,
    records: Iterable[str | dict[str, Any]],
    *,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> int:
    """Write exported records (JSON lines or dicts) to ``store``; returns how many.

    Every record is checked before anything is written, so a bad line leaves
    the store untouched; blank lines are skipped. Writes go in batches of
    ``batch_size`` (one embedding call each).
    """
    if batch_size < 1:
        raise InvalidStoreInputError(f"batch_size must be at least 1, got {batch_size!r}")
    ops = [
        _parse(record, number)
        for number, record in enumerate(records, start=1)
        if not (isinstance(record, str) and not record.strip())
    ]
    for start in range(0, len(ops), batch_size):
        store.batch(ops[start : start + batch_size])
        if progress is not None:
            progress(min(start + batch_size, len(ops)))
    return len(ops)


def reindex_memories(
    store: BaseStore,
    namespace_prefix: tuple[str, ...] = (),
    *,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> int:
    """Re-embed every item under ``namespace_prefix`` with the store's current embedder.

    Each item is written again with the same value, which replaces its
    vectors; its ``updated_at`` moves to now.
    """
    records = export_memories(store, namespace_prefix)
    return import_memories(store, records, batch_size=batch_size, progress=progress)
