"""The operations a store's ``batch`` executes, and the types they carry.

Every convenience method of :class:`~threadloom.store.base.BaseStore` builds
one of these tuples: ``get`` a :class:`GetOp`, ``put``/``delete`` a
:class:`PutOp`, ``search`` a :class:`SearchOp`, ``list_namespaces`` a
:class:`ListNamespacesOp`, ``delete_namespace`` a :class:`DeleteNamespaceOp`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, NamedTuple

from threadloom.store._items import Item, SearchItem

__all__ = [
    "NOT_PROVIDED",
    "SEARCH_MODES",
    "AEmbedFunc",
    "DeleteNamespaceOp",
    "EmbedFunc",
    "GetOp",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespaceMatchType",
    "NamespacePath",
    "Op",
    "PutOp",
    "Result",
    "SearchMode",
    "SearchOp",
    "matches_condition",
]

NamespacePath = tuple[str | Literal["*"], ...]
"""A namespace pattern; the label ``"*"`` matches any one label."""

NamespaceMatchType = Literal["prefix", "suffix"]

SearchMode = Literal["vector", "keyword", "hybrid"]
"""How a query search ranks: by meaning, by keywords (BM25), or both fused."""

#: Every search mode, in the order the docs list them.
SEARCH_MODES: tuple[str, ...] = ("vector", "keyword", "hybrid")


class GetOp(NamedTuple):
    """Read one item by namespace and key."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Search items under a namespace prefix, by filter and/or natural-language query.

    ``mode`` (``"vector"``, ``"keyword"`` or ``"hybrid"``) ranks a query
    search; ``None`` means the index config's ``search_mode`` (default
    ``"vector"``). It is ignored without a query.
    """

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True
    # Last, so positional callers written for the reference API are unaffected.
    mode: str | None = None


class MatchCondition(NamedTuple):
    """A namespace pattern anchored at the start (``prefix``) or end (``suffix``)."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List the namespaces that hold items, filtered by match conditions."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Store (``value`` is a dict) or delete (``value is None``) one item.

    ``index`` is ``None`` to embed the store's configured fields, ``False`` to
    skip embedding, or a list of paths to embed instead. ``ttl`` is minutes to
    live, ``None`` for the store's default.
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    # The field name shadows tuple.index; kept because it is the reference API's name.
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]
    ttl: float | None = None


class DeleteNamespaceOp(NamedTuple):
    """Delete every item whose namespace starts with ``namespace_prefix``."""

    namespace_prefix: tuple[str, ...]


Op = GetOp | SearchOp | PutOp | ListNamespacesOp | DeleteNamespaceOp
Result = Item | list[Item] | list[SearchItem] | list[tuple[str, ...]] | int | None

EmbedFunc = Callable[[Sequence[str]], Sequence[Sequence[float]]]
AEmbedFunc = Callable[[Sequence[str]], Awaitable[Sequence[Sequence[float]]]]


class _NotProvided:
    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_PROVIDED"


NOT_PROVIDED: Any = _NotProvided()


def matches_condition(namespace: tuple[str, ...], condition: MatchCondition) -> bool:
    """Whether ``namespace`` fits ``condition`` (``"*"`` matches any one label)."""
    path = condition.path
    if len(path) > len(namespace):
        return False
    labels = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(p == "*" or p == label for p, label in zip(path, labels, strict=True))
