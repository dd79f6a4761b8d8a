"""How :class:`~threadloom.store.memory.InMemoryStore` keeps an item, and the copies it hands out.

A stored value is never handed out itself: a caller who changes a returned
value must not change the store. Most values are flat dicts of strings and
numbers, whose copy is one ``dict.copy``; the record learns which kind it holds
on its first read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

__all__ = ["Record", "copy_json"]


def copy_json(value: Any) -> Any:
    """Copy a JSON value (dicts and lists; everything else in it is immutable)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


class Record:
    """One stored item of a namespace: its value, times, TTL and index paths."""

    __slots__ = (
        "created_at",
        "expires_at",
        "flat",
        "index",
        "seq",
        "ttl",
        "updated_at",
        "value",
    )

    def __init__(
        self,
        value: dict[str, Any],
        created_at: datetime,
        updated_at: datetime,
        seq: int,
        ttl: float | None,
        expires_at: float | None,
        index: Literal[False] | list[str] | None = None,
    ) -> None:
        self.value = value
        # The put's own index paths, so the keyword index can be built later from them.
        self.index = index
        self.created_at = created_at
        self.updated_at = updated_at
        self.seq = seq
        self.ttl = ttl
        self.expires_at = expires_at
        # Whether value holds no dict or list (None: not looked yet). Values are
        # replaced, never changed in place, so the answer holds for the record's life.
        self.flat: bool | None = None

    def value_copy(self) -> dict[str, Any]:
        """A copy of the value that the caller may change freely."""
        flat = self.flat
        if flat is None:
            flat = self.flat = not any(type(v) in _NESTED for v in self.value.values())
        if flat:
            return self.value.copy()
        return copy_json(self.value)


_NESTED = frozenset({dict, list})
