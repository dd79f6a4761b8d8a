"""The cache interface: values under ``(namespace, key)``, each with an optional time to live."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BaseCache", "FullKey", "Namespace"]

Namespace = tuple[str, ...]
FullKey = tuple[Namespace, str]
"""``(namespace, key)``: a node's or task's namespace and the key of one input."""


class BaseCache(ABC):
    """Where cached node and task results live. A backend implements three methods.

    ``get`` returns the entries found (expired ones are never returned), ``set``
    stores ``{full_key: (value, ttl_seconds_or_None)}``, ``clear`` removes the
    given namespaces (all of them with ``None``). The async twins call the sync
    methods unless a backend overrides them.
    """

    @abstractmethod
    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        """The cached values of ``keys`` that are present and not expired."""

    @abstractmethod
    def set(self, pairs: Mapping[FullKey, tuple[Any, int | float | None]]) -> None:
        """Store each value under its key, for ``ttl`` seconds (``None``: no expiry)."""

    @abstractmethod
    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Remove the entries of ``namespaces``, or every entry."""

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        """Async twin of :meth:`get`."""
        return self.get(keys)

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | float | None]]) -> None:
        """Async twin of :meth:`set`."""
        self.set(pairs)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Async twin of :meth:`clear`."""
        self.clear(namespaces)
