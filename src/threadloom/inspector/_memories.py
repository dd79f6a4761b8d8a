"""Memory queries the pages need, each touching only one page of the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadloom.inspector._access import Viewer

__all__ = ["COUNT_CAP", "Child", "children", "count", "items_page"]

COUNT_CAP = 10_000_000
"""Counts stop here (shown as "at least")."""


def count(store: Any, prefix: tuple[str, ...]) -> int:
    """How many items lie under ``prefix``, found by probing offsets (never loading the items).

    ``search(limit=1, offset=k)`` answers "are there more than k?"; doubling then
    bisecting finds the count in about 2·log2(n) one-row reads.
    """

    def more_than(k: int) -> bool:
        return bool(store.search(prefix, limit=1, offset=k))

    if not more_than(0):
        return 0
    low, high = 0, 1  # more than `low` items; not known for `high`
    while more_than(high):
        low, high = high, high * 2
        if high > COUNT_CAP:
            return COUNT_CAP
    while high - low > 1:  # more than `low`, not more than `high`
        mid = (low + high) // 2
        low, high = (mid, high) if more_than(mid) else (low, mid)
    return high


@dataclass
class Child:
    """A namespace one level below the one shown, with how many items lie under it."""

    namespace: tuple[str, ...]  # relative to the viewer's root
    count: int


def children(
    store: Any, viewer: Viewer, path: tuple[str, ...], *, limit: int, offset: int
) -> tuple[list[Child], bool]:
    """A page of the namespaces one level below ``path``, with counts; and whether more follow."""
    full = viewer.namespace_root + path
    found = store.list_namespaces(
        prefix=full or None, max_depth=len(full) + 1, limit=limit + 1, offset=offset
    )
    rel = [ns[len(viewer.namespace_root) :] for ns in found if len(ns) > len(full)]
    if not full:
        rel = [ns for ns in rel if ns[0] not in viewer.hidden_roots]
    page = [Child(ns, count(store, viewer.namespace_root + ns)) for ns in rel[:limit]]
    return page, len(found) > limit


def items_page(
    store: Any, prefix: tuple[str, ...], *, limit: int, offset: int, oldest_first: bool
) -> tuple[list[Any], int]:
    """A page of the items under ``prefix`` by update time, and their total count."""
    total = count(store, prefix)
    if not oldest_first:
        return store.search(prefix, limit=limit, offset=offset), total
    # The store pages newest first: the oldest page is read from the other end.
    end = max(0, total - offset)
    start = max(0, end - limit)
    return list(reversed(store.search(prefix, limit=end - start, offset=start))) if end else [], total
