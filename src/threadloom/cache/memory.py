"""An in-process cache for node and task results."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from threadloom.cache.base import BaseCache, FullKey, Namespace

__all__ = ["InMemoryCache"]


class InMemoryCache(BaseCache):
    """Keeps entries in a dict; values are copied in and out, so callers never share them.

    Example::

        from threadloom.cache.memory import InMemoryCache

        cache = InMemoryCache()
        cache.set({(("node",), "k"): ({"x": 1}, None)})
        assert cache.get([(("node",), "k")]) == {(("node",), "k"): {"x": 1}}
    """

    def __init__(self) -> None:
        self._data: dict[Namespace, dict[str, tuple[Any, float | None]]] = {}
        self._lock = threading.Lock()

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        now = time.time()
        out: dict[FullKey, Any] = {}
        with self._lock:
            for ns, key in keys:
                entry = self._data.get(ns, {}).get(key)
                if entry is None:
                    continue
                value, expiry = entry
                if expiry is not None and expiry <= now:
                    del self._data[ns][key]
                    continue
                out[(ns, key)] = copy.deepcopy(value)
        return out

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | float | None]]) -> None:
        now = time.time()
        with self._lock:
            for (ns, key), (value, ttl) in pairs.items():
                expiry = None if ttl is None else now + ttl
                self._data.setdefault(tuple(ns), {})[key] = (copy.deepcopy(value), expiry)

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        with self._lock:
            if namespaces is None:
                self._data.clear()
            else:
                for ns in namespaces:
                    self._data.pop(tuple(ns), None)
