"""Node and task result caching: the cache key of a call, and reading and writing entries."""

from __future__ import annotations

from typing import Any

__all__ = ["NODE_NS", "TASK_NS", "cache_key", "lookup", "store"]

NODE_NS = "__pregel_ns_writes"
"""First part of a node's cache namespace; the node name is the second."""
TASK_NS = "__pregel_ns_task"
"""First part of a functional-API task's cache namespace; the task name is the second."""


def cache_key(kind: str, name: str, policy: Any, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """The ``(namespace, key)`` of a call under ``policy``: its ``key_func`` over the input."""
    key = policy.key_func(*args, **kwargs)
    return ((kind, name), key.hex() if isinstance(key, bytes) else str(key))


def lookup(cache: Any, full_key: tuple[Any, str]) -> Any:
    """The cached entry, or ``None``."""
    return cache.get([full_key]).get(full_key)


def store(cache: Any, full_key: tuple[Any, str], value: Any, policy: Any) -> None:
    """Keep ``value`` under ``full_key`` for the policy's ``ttl``."""
    cache.set({full_key: (value, policy.ttl)})
