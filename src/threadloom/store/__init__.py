"""Long-term memory shared across threads: the store interface and its backends.

``threadloom.store.base`` holds the interface (:class:`BaseStore`, the ops,
:class:`Item`, :class:`SearchItem`, the configs); each backend is a module of
its own: ``threadloom.store.memory`` (:class:`InMemoryStore`),
``threadloom.store.sqlite`` and ``threadloom.store.postgres``.

>>> from threadloom.store.memory import InMemoryStore
>>> store = InMemoryStore()
>>> store.put(("memories", "1"), "k", {"data": "User name is Bob"})
>>> [item.value for item in store.search(("memories", "1"))]
[{'data': 'User name is Bob'}]
"""

from threadloom.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
    TTLConfig,
)

__all__ = [
    "BaseStore",
    "GetOp",
    "IndexConfig",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "PutOp",
    "SearchItem",
    "SearchOp",
    "TTLConfig",
]
