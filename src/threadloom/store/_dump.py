"""Whole items in and out of a store: :class:`StoredItem`, what ``dump_items`` gives and ``load_items`` takes.

A put lets the store choose an item's timestamps, expiry and vectors; a
backup or a move to another backend must keep them. ``dump_items`` returns
every live item under a prefix with all a store keeps about it, in update
order (oldest first), without refreshing any TTL; ``load_items`` writes such
items back in one transaction, keeping their times, expiry and vectors, so
that a dump of the loaded store equals the dump it was loaded from.

This module holds the record type and the checks every backend shares
(:func:`prepare_load`), so the backends differ only in how they read and write rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from threadloom.errors import IndexConfigMismatchError, InvalidStoreInputError, ThreadloomError
from threadloom.store._ops import PutOp
from threadloom.store._validate import validated_put

if TYPE_CHECKING:  # the embedding module imports the store base, which imports this one
    from threadloom.store._embedding import ResolvedIndex

__all__ = [
    "LoadedItem",
    "StoredItem",
    "as_lists",
    "epoch_seconds",
    "from_epoch",
    "prepare_load",
    "utc",
]

FloatMatrix = Any
# Rows this close to unit length are kept bit for bit (what an embedder gave);
# others are normalized, as a put would.
_UNIT_TOLERANCE = 1e-4


@dataclass(frozen=True)
class StoredItem:
    """One item with everything a store keeps about it.

    ``index`` is the put's own ``index`` argument (``None``: the store's
    fields; ``False``: not embedded). ``ttl`` is minutes to live and
    ``expires_at`` when the item expires unless read (``None`` for both when
    it never does). ``vectors`` are the item's unit vectors, one list per
    indexed text, or ``None`` when not dumped (then ``load_items`` embeds the
    value again with the store's embedder).
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    index: Literal[False] | list[str] | None = None
    ttl: float | None = None
    expires_at: datetime | None = None
    vectors: list[list[float]] | None = None


@dataclass(frozen=True)
class LoadedItem:
    """A checked :class:`StoredItem` as a backend writes it: the put, times (UTC) and unit rows."""

    op: PutOp
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    #: ``(n, dims)`` float32 unit rows; ``None`` when the store keeps no vectors.
    vectors: FloatMatrix | None


def utc(stamp: datetime) -> datetime:
    """``stamp`` in UTC (a naive stamp is taken to be UTC), so equal instants print alike."""
    if stamp.tzinfo is None:
        return stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


def _where(position: int, item: Any) -> str:
    namespace = getattr(item, "namespace", None)
    key = getattr(item, "key", None)
    if isinstance(namespace, tuple) and isinstance(key, str):
        return f"item {position} ({'/'.join(map(str, namespace))}, key {key!r})"
    return f"item {position}"


def _stamp(item: Any, name: str, position: int, *, optional: bool = False) -> datetime | None:
    stamp = getattr(item, name)
    if stamp is None and optional:
        return None
    if not isinstance(stamp, datetime):
        raise InvalidStoreInputError(
            f"{_where(position, item)}: {name} must be a datetime, got {stamp!r}"
        )
    return utc(stamp)


def _rows(item: StoredItem, dims: int, position: int) -> FloatMatrix:
    try:
        matrix = np.array(item.vectors, dtype=np.float32, ndmin=2)
    except (TypeError, ValueError) as exc:
        raise InvalidStoreInputError(
            f"{_where(position, item)}: vectors must be lists of numbers ({exc})"
        ) from None
    if matrix.size == 0:
        return np.empty((0, dims), dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dims:
        raise IndexConfigMismatchError(
            f"{_where(position, item)}: vectors of {matrix.shape[-1]} dims, but the store's "
            f"index has dims={dims}; nothing was written"
        )
    if not np.isfinite(matrix).all():
        raise InvalidStoreInputError(f"{_where(position, item)}: vectors hold NaN or infinity")
    norms = np.sqrt(np.einsum("ij,ij->i", matrix.astype(np.float64), matrix.astype(np.float64)))
    off = np.abs(norms - 1.0) > _UNIT_TOLERANCE
    if off.any():
        safe = np.where(norms == 0, 1.0, norms)
        matrix[off] = (matrix[off] / safe[off, None]).astype(np.float32)
    return np.ascontiguousarray(matrix)


def prepare_load(
    items: Iterable[StoredItem], index: ResolvedIndex | None, *, now: datetime | None = None
) -> list[LoadedItem]:
    """Check every item and produce its vectors; raises before anything is written.

    Items whose ``expires_at`` has passed are left out (they would never be
    returned). Items without ``vectors`` are embedded in one call, as a batch
    of puts would be; given vectors must have the index's dims. A store
    without an embedder keeps no vectors, so it ignores given ones. An error
    about one item names it and carries its 0-based ``position``.
    """
    moment = utc(now) if now is not None else datetime.now(timezone.utc)
    checked: list[tuple[int, StoredItem, PutOp, datetime, datetime, datetime | None]] = []
    for position, item in enumerate(items):
        try:
            entry = _check(position, item, moment)
        except ThreadloomError as exc:
            exc.position = position  # type: ignore[attr-defined]
            raise
        if entry is not None:
            checked.append(entry)
    vectors: list[FloatMatrix | None] = [None] * len(checked)
    if index is not None:
        to_embed: list[PutOp] = []
        embed_at: list[int] = []
        for n, (position, item, op, *_) in enumerate(checked):
            if item.vectors is None or op.index is False:
                to_embed.append(op)
                embed_at.append(n)
                continue
            try:
                vectors[n] = _rows(item, index.dims, position)
            except ThreadloomError as exc:
                exc.position = position  # type: ignore[attr-defined]
                raise
        if to_embed:
            embedded = index.plan(to_embed).embed(index)
            for at, n in enumerate(embed_at):
                rows = embedded.rows_of(at)
                vectors[n] = rows if rows is not None else np.empty((0, index.dims), np.float32)
    return [
        LoadedItem(op, created, updated, expires, rows)
        for (_, _, op, created, updated, expires), rows in zip(checked, vectors, strict=True)
    ]


def _check(
    position: int, item: Any, moment: datetime
) -> tuple[int, StoredItem, PutOp, datetime, datetime, datetime | None] | None:
    """One item's put, times and expiry; ``None`` when it has expired already."""
    if not isinstance(item, StoredItem):
        raise InvalidStoreInputError(
            f"item {position}: load_items takes StoredItem records, got {type(item).__name__}"
        )
    try:
        op = validated_put(tuple(item.namespace), item.key, item.value, item.index, item.ttl)
    except ThreadloomError as exc:
        raise type(exc)(f"{_where(position, item)}: {exc}") from None
    created = _stamp(item, "created_at", position)
    updated = _stamp(item, "updated_at", position)
    expires = _stamp(item, "expires_at", position, optional=True)
    assert created is not None and updated is not None
    if expires is not None and item.ttl is None:
        raise InvalidStoreInputError(f"{_where(position, item)}: expires_at is set but ttl is not")
    if item.ttl is not None and expires is None:
        expires = moment + timedelta(minutes=item.ttl)
    if expires is not None and expires <= moment:
        return None
    return position, item, op, created, updated, expires


def epoch_seconds(stamp: datetime | None) -> float | None:
    """A UTC stamp as seconds since the epoch (how SQLite and memory keep expiries)."""
    return None if stamp is None else stamp.timestamp()


def from_epoch(seconds: float | None) -> datetime | None:
    """Seconds since the epoch as a UTC stamp, rounded to the microsecond."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return datetime.fromtimestamp(seconds, timezone.utc)


def as_lists(rows: FloatMatrix | None) -> list[list[float]] | None:
    """float32 rows as plain lists (each float32 value is exactly a Python float)."""
    if rows is None:
        return None
    return [[float(x) for x in row] for row in np.asarray(rows, dtype=np.float32)]
