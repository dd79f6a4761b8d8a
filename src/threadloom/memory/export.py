"""Export and import memories as JSON lines, and re-embed them after a model change.

An export is a header line, then one line per item, oldest update first::

    {"format": "threadloom-memories", "version": 2}
    {"created_at": "...", "expires_at": null, "index": null, "key": "...",
     "namespace": ["memories", "u1"], "ttl_minutes": null, "updated_at": "...",
     "value": {...}}

with ``"vectors": [[...], ...]`` too when asked for. Everything comes from
the store's :meth:`~threadloom.store.base.BaseStore.dump_items` and goes back
through :meth:`~threadloom.store.base.BaseStore.load_items`, so the round
trip is exact: importing an export into an empty store and exporting again
gives the same bytes, and searches give the same hits and scores (with the
vectors; without them the store embeds the values again). The history and
reflection-queue namespaces are ordinary namespaces, so an export of
everything carries them too.

Import is all or nothing: every line is read and checked first, and the
store writes all items in one transaction, so a bad line (malformed JSON, an
unknown field, a wrong vector dimension, a file from a newer format) raises
:class:`~threadloom.errors.MemoryImportError` naming the line and leaves the
store as it was. Files without a header are version 1 (threadloom's first
exports: values and timestamps only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, Literal

from threadloom.errors import MemoryImportError, ThreadloomError
from threadloom.memory.history import HISTORY_LABEL
from threadloom.memory.reflection import QUEUE_LABEL
from threadloom.store.base import BaseStore, StoredItem

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Progress",
    "export_lines",
    "export_memories",
    "header",
    "import_memories",
    "reindex_memories",
    "to_jsonl",
]

Progress = Callable[[int], None]
"""Called with the number of items done so far, every few hundred items and at the end."""

#: The header's ``format`` and the newest ``version`` this threadloom writes and reads.
FORMAT = "threadloom-memories"
FORMAT_VERSION = 2

_EVERY = 500
_REQUIRED = ("namespace", "key", "value")
_FIELDS = {
    1: {*_REQUIRED, "created_at", "updated_at"},
    2: {*_REQUIRED, "created_at", "updated_at", "index", "ttl_minutes", "expires_at", "vectors"},
}


def header() -> dict[str, Any]:
    """The first record of an export: which format and version the lines follow."""
    return {"format": FORMAT, "version": FORMAT_VERSION}


def _record(item: StoredItem) -> dict[str, Any]:
    record: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "index": item.index,
        "ttl_minutes": float(item.ttl) if item.ttl is not None else None,
        "expires_at": item.expires_at.isoformat() if item.expires_at is not None else None,
    }
    if item.vectors is not None:
        record["vectors"] = item.vectors
    return record


def export_memories(
    store: BaseStore,
    namespace_prefix: tuple[str, ...] = (),
    *,
    vectors: bool = False,
    progress: Progress | None = None,
) -> Iterator[dict[str, Any]]:
    """Every live item under ``namespace_prefix`` as a JSON-ready record, oldest update first.

    ``vectors=True`` adds each item's vectors, so an import needs no embedder
    and scores exactly as before. No TTL is refreshed by exporting.
    """
    items = store.dump_items(tuple(namespace_prefix), vectors=vectors)
    for done, item in enumerate(items, start=1):
        yield _record(item)
        if progress is not None and done % _EVERY == 0:
            progress(done)
    if progress is not None:
        progress(len(items))


def export_lines(
    store: BaseStore,
    namespace_prefix: tuple[str, ...] = (),
    *,
    vectors: bool = False,
    progress: Progress | None = None,
) -> Iterator[str]:
    """The export file's lines (without newlines): the header, then one per item."""
    yield to_jsonl(header())
    for record in export_memories(store, namespace_prefix, vectors=vectors, progress=progress):
        yield to_jsonl(record)


def to_jsonl(record: dict[str, Any]) -> str:
    """One export record as a JSON line (keys sorted, so exports of equal data are equal)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, allow_nan=False)


# --- import ---------------------------------------------------------------------


def _fail(number: int, message: str) -> MemoryImportError:
    return MemoryImportError(f"line {number}: {message}; nothing was imported", line=number)


def _stamp(record: dict[str, Any], name: str, number: int) -> datetime | None:
    raw = record.get(name)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _fail(number, f"{name} must be an ISO 8601 time, got {raw!r}")
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise _fail(number, f"{name} is not an ISO 8601 time: {raw!r}") from None


def _index_for(namespace: tuple[str, ...]) -> Literal[False] | list[str] | None:
    """How the memory layer indexes its own namespaces; the store's default for the rest.

    Used when a record does not say (version 1 files, and PostgreSQL dumps,
    which do not keep a put's own paths).
    """
    if namespace and namespace[0] == QUEUE_LABEL:
        return False
    if namespace and namespace[0] == HISTORY_LABEL:
        return ["content"]
    return None


def _header_version(record: dict[str, Any], number: int) -> int:
    if record.get("format") != FORMAT or set(record) != {"format", "version"}:
        raise _fail(number, f"not a {FORMAT} header: {sorted(record)}")
    version = record["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(number, f"the format version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            number,
            f"the file is format version {version}, written by a newer threadloom; "
            f"this one reads versions up to {FORMAT_VERSION}",
        )
    return version


def _item(record: dict[str, Any], version: int, number: int, now: datetime) -> StoredItem:
    unknown = set(record) - _FIELDS[version]
    if unknown:
        raise _fail(number, f"unknown field(s) {', '.join(sorted(unknown))} for version {version}")
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        raise _fail(number, f"missing field(s) {', '.join(missing)}")
    namespace, key, value = record["namespace"], record["key"], record["value"]
    if not isinstance(namespace, list) or not all(isinstance(label, str) for label in namespace):
        raise _fail(number, f"namespace must be a list of strings, got {namespace!r}")
    if not isinstance(key, str) or not isinstance(value, dict):
        raise _fail(number, "key must be a string and value an object")
    labels = tuple(namespace)
    index = record.get("index")
    if index is None:
        index = _index_for(labels)
    ttl = record.get("ttl_minutes")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)):
        raise _fail(number, f"ttl_minutes must be a number or null, got {ttl!r}")
    vectors = record.get("vectors")
    if vectors is not None and not isinstance(vectors, list):
        raise _fail(
            number, f"vectors must be a list of lists of numbers, got {type(vectors).__name__}"
        )
    created = _stamp(record, "created_at", number) or now
    updated = _stamp(record, "updated_at", number) or created
    return StoredItem(
        labels,
        key,
        value,
        created,
        updated,
        index,
        ttl,
        _stamp(record, "expires_at", number),
        vectors,
    )


def _parse(
    records: Iterable[str | dict[str, Any]], progress: Progress | None
) -> tuple[list[StoredItem], list[int]]:
    """The items of an export and the line each came from; raises on the first bad line."""
    now = datetime.now(timezone.utc)
    items: list[StoredItem] = []
    lines: list[int] = []
    version: int | None = None
    for number, line in enumerate(records, start=1):
        if isinstance(line, str):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise _fail(number, f"not JSON ({exc})") from None
        else:
            record = line
        if not isinstance(record, dict):
            raise _fail(number, f"a record must be a JSON object, got {type(record).__name__}")
        if version is None:
            version = _header_version(record, number) if "format" in record else 1
            if "format" in record:
                continue
        elif "format" in record:
            raise _fail(number, "a header may only be the first line")
        items.append(_item(record, version, number, now))
        lines.append(number)
        if progress is not None and len(items) % _EVERY == 0:
            progress(len(items))
    return items, lines


def import_memories(
    store: BaseStore,
    records: Iterable[str | dict[str, Any]],
    *,
    progress: Progress | None = None,
) -> int:
    """Write an export (JSON lines, or the records as dicts) to ``store``; returns how many items.

    All or nothing: every line is checked, then the store writes every item
    in one transaction (embedding those without vectors first). Items keep
    their timestamps, TTL and expiry; items already at an address are
    replaced. Blank lines are skipped.
    """
    items, lines = _parse(records, progress)
    try:
        written = store.load_items(items)
    except ThreadloomError as exc:
        position = getattr(exc, "position", None)
        if isinstance(position, int) and 0 <= position < len(lines):
            raise _fail(lines[position], str(exc)) from exc
        raise
    if progress is not None:
        progress(len(items))
    return written


def reindex_memories(
    store: BaseStore,
    namespace_prefix: tuple[str, ...] = (),
    *,
    progress: Progress | None = None,
) -> int:
    """Re-embed every item under ``namespace_prefix`` with the store's current embedder.

    The items are dumped without vectors and loaded back, so each keeps its
    value, timestamps, TTL and expiry and gets new vectors; all in one transaction.
    """
    items = store.dump_items(tuple(namespace_prefix))
    written = store.load_items(items)
    if progress is not None:
        progress(written)
    return written
