"""Memory queries the pages need, each reading a bounded number of items.

The store API has no count: a count is the length of one bounded search, and
stops at a cap (a tree shows "1000+"). Pages read only their own items. Looking
never refreshes an item's TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadloom.inspector._access import Viewer

__all__ = [
    "PAGE_COUNT_CAP",
    "TREE_COUNT_CAP",
    "Child",
    "children",
    "count",
    "expiry",
    "items_page",
]

TREE_COUNT_CAP = 1_000
"""Items counted per namespace in the tree; more show as "1000+"."""

PAGE_COUNT_CAP = 10_000
"""Items counted for a namespace's own page; up to this many it can also be read oldest first."""


def count(store: Any, prefix: tuple[str, ...], cap: int = PAGE_COUNT_CAP) -> int:
    """How many items lie under ``prefix``, up to ``cap + 1`` (``cap + 1`` means "more than cap")."""
    return len(store.search(prefix, limit=cap + 1, refresh_ttl=False))


@dataclass
class Child:
    """A namespace one level below the one shown, with how many items lie under it."""

    namespace: tuple[str, ...]  # relative to the viewer's root
    count: int

    @property
    def label(self) -> str:
        return f"{TREE_COUNT_CAP}+" if self.count > TREE_COUNT_CAP else str(self.count)


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
    page = [
        Child(ns, count(store, viewer.namespace_root + ns, TREE_COUNT_CAP)) for ns in rel[:limit]
    ]
    return page, len(found) > limit


@dataclass
class ItemsPage:
    """A page of a namespace's items by update time."""

    items: list[Any]
    total: int  # PAGE_COUNT_CAP + 1 when there are more
    more: bool
    oldest_first: bool  # False when asked but the namespace is too large to read from the end

    @property
    def exact(self) -> bool:
        return self.total <= PAGE_COUNT_CAP


def items_page(
    store: Any, prefix: tuple[str, ...], *, limit: int, offset: int, oldest_first: bool
) -> ItemsPage:
    """Items under ``prefix``, newest (or oldest) update first, from ``offset``."""
    head = store.search(prefix, limit=PAGE_COUNT_CAP + 1, refresh_ttl=False)
    total = len(head)
    if total <= PAGE_COUNT_CAP:  # all of them are here: either end is a slice
        ordered = list(reversed(head)) if oldest_first else head
        return ItemsPage(
            ordered[offset : offset + limit], total, offset + limit < total, oldest_first
        )
    if offset + limit < total:
        return ItemsPage(head[offset : offset + limit], total, True, False)
    page = store.search(prefix, limit=limit + 1, offset=offset, refresh_ttl=False)
    return ItemsPage(page[:limit], total, len(page) > limit, False)


EXPIRY_SCAN_CAP = 1_000
"""Namespaces up to this size are dumped to find an item's expiry (the API has no other way)."""


def expiry(store: Any, namespace: tuple[str, ...], key: str) -> tuple[bool, Any, Any]:
    """``(known, ttl minutes, expires_at)`` of an item, read without refreshing its TTL."""
    if count(store, namespace, EXPIRY_SCAN_CAP) > EXPIRY_SCAN_CAP:
        return False, None, None
    try:
        dumped = store.dump_items(namespace)
    except NotImplementedError:
        return False, None, None
    for stored in dumped:
        if stored.namespace == namespace and stored.key == key:
            return True, stored.ttl, stored.expires_at
    return False, None, None
