"""``BaseStore``: the two methods a backend implements, and every convenience on top."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, Literal, cast

from threadloom.errors import InvalidStoreInputError
from threadloom.store._config import TTLConfig
from threadloom.store._dump import StoredItem
from threadloom.store._items import Item, SearchItem
from threadloom.store._ops import (
    NOT_PROVIDED,
    DeleteNamespaceOp,
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    NamespacePath,
    Op,
    PutOp,
    Result,
    SearchMode,
    SearchOp,
)
from threadloom.store._validate import validate_search_mode

__all__ = ["BaseStore", "run_in_thread"]


class BaseStore(ABC):
    """Abstract store: implement :meth:`batch` and :meth:`abatch`, inherit the rest.

    Every method has an async twin prefixed with ``a`` (``aget``, ``aput``, ...).
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None
    #: The search modes this backend implements; a backend adds ``"keyword"``
    #: and ``"hybrid"`` once it keeps a keyword index.
    supported_search_modes: tuple[str, ...] = ("vector",)

    __slots__ = ("__weakref__",)

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute operations in order and return one result per operation.

        The whole batch is validated before any of it runs.
        """

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`."""

    # --- sync conveniences ---

    def get(
        self,
        namespace: tuple[str, ...],
        key: str,
        *,
        refresh_ttl: bool | None = None,
    ) -> Item | None:
        """The item at ``(namespace, key)``, or ``None``."""
        op = GetOp(namespace, key, self._refresh(refresh_ttl))
        return cast("Item | None", self.batch([op])[0])

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: SearchMode | None = None,
    ) -> list[SearchItem]:
        """Items under ``namespace_prefix``, best match first.

        With ``query``, items are ranked according to ``mode`` (the store must
        have an index): ``"vector"`` by semantic similarity, ``"keyword"`` by
        BM25 over the indexed text, ``"hybrid"`` by both fused; ``None`` uses
        the index config's ``search_mode`` (default ``"vector"``). Without a
        query, the most recently updated come first, whatever the mode.
        ``filter`` matches values: ``{"kind": "fact", "score": {"$gte": 3}}``.
        See :class:`SearchItem` for what ``score`` means in each mode.
        """
        self._check_mode(mode)
        if type(namespace_prefix) is list:  # LangGraph's stores take a list too
            namespace_prefix = tuple(namespace_prefix)
        op = SearchOp(
            namespace_prefix, filter, limit, offset, query, self._refresh(refresh_ttl), mode
        )
        return cast("list[SearchItem]", self.batch([op])[0])

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | Any | None = NOT_PROVIDED,
    ) -> None:
        """Store ``value`` at ``(namespace, key)``, replacing any previous item."""
        self.batch([PutOp(namespace, key, value, index, self._ttl(ttl))])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete the item at ``(namespace, key)`` if it exists."""
        self.batch([PutOp(namespace, key, None)])

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Namespaces that hold items, sorted; ``"*"`` in a pattern matches any label.

        ``max_depth`` truncates longer namespaces to that many labels.
        """
        op = ListNamespacesOp(_match_conditions(prefix, suffix), max_depth, limit, offset)
        return cast("list[tuple[str, ...]]", self.batch([op])[0])

    def delete_namespace(self, namespace_prefix: tuple[str, ...]) -> int:
        """Delete every item under ``namespace_prefix``; returns how many were deleted."""
        return cast(int, self.batch([DeleteNamespaceOp(namespace_prefix)])[0])

    def dump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Every live item under ``namespace_prefix`` with its times, TTL and expiry.

        Oldest update first (the order :meth:`load_items` keeps); no TTL is
        refreshed. ``vectors=True`` includes each item's vectors. A backup, a
        move to another backend, or a re-embed after a model change (dump
        without vectors, load into a store with the new embedder) start here.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement dump_items")

    def load_items(self, items: Iterable[StoredItem]) -> int:
        """Write dumped items as they were: value, timestamps, TTL, expiry and vectors.

        All or nothing: every item is checked (and those without vectors
        embedded) before one transaction writes them all; an item already at
        an address is replaced. Items given in update order keep that order
        (a search without query returns the last one first). Expired items
        are skipped. Returns how many items were written.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement load_items")

    # --- async conveniences ---

    async def aget(
        self,
        namespace: tuple[str, ...],
        key: str,
        *,
        refresh_ttl: bool | None = None,
    ) -> Item | None:
        """Async twin of :meth:`get`."""
        op = GetOp(namespace, key, self._refresh(refresh_ttl))
        return cast("Item | None", await self._arun(op))

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: SearchMode | None = None,
    ) -> list[SearchItem]:
        """Async twin of :meth:`search`."""
        self._check_mode(mode)
        if type(namespace_prefix) is list:  # LangGraph's stores take a list too
            namespace_prefix = tuple(namespace_prefix)
        op = SearchOp(
            namespace_prefix, filter, limit, offset, query, self._refresh(refresh_ttl), mode
        )
        return cast("list[SearchItem]", await self._arun(op))

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | Any | None = NOT_PROVIDED,
    ) -> None:
        """Async twin of :meth:`put`."""
        await self._arun(PutOp(namespace, key, value, index, self._ttl(ttl)))

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """Async twin of :meth:`delete`."""
        await self._arun(PutOp(namespace, key, None))

    async def alist_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Async twin of :meth:`list_namespaces`."""
        op = ListNamespacesOp(_match_conditions(prefix, suffix), max_depth, limit, offset)
        return cast("list[tuple[str, ...]]", await self._arun(op))

    async def adelete_namespace(self, namespace_prefix: tuple[str, ...]) -> int:
        """Async twin of :meth:`delete_namespace`."""
        return cast(int, await self._arun(DeleteNamespaceOp(namespace_prefix)))

    async def adump_items(
        self, namespace_prefix: tuple[str, ...] = (), *, vectors: bool = False
    ) -> list[StoredItem]:
        """Async twin of :meth:`dump_items` (the sync one, in a worker thread)."""
        return cast(
            "list[StoredItem]",
            await run_in_thread(lambda: self.dump_items(namespace_prefix, vectors=vectors)),
        )

    async def aload_items(self, items: Iterable[StoredItem]) -> int:
        """Async twin of :meth:`load_items` (the sync one, in a worker thread)."""
        items = list(items)
        return cast(int, await run_in_thread(self.load_items, items))

    # --- helpers ---

    async def _arun(self, op: Op) -> Result:
        """Run one operation of an async convenience method (a batching store queues it)."""
        return (await self.abatch([op]))[0]

    def _check_mode(self, mode: Any) -> None:
        validate_search_mode(mode)
        if mode is not None and mode not in self.supported_search_modes:
            raise InvalidStoreInputError(
                f"Search mode {mode!r} is not supported by {type(self).__name__} "
                f"(supported: {', '.join(self.supported_search_modes)})"
            )

    def _refresh(self, refresh_ttl: bool | None) -> bool:
        if refresh_ttl is not None:
            return refresh_ttl
        if self.ttl_config is None:
            return True
        return self.ttl_config.get("refresh_on_read", True)

    def _ttl(self, ttl: Any) -> float | None:
        if ttl is NOT_PROVIDED:
            config = self.ttl_config
            return config.get("default_ttl") if config else None
        return cast("float | None", ttl)


def _match_conditions(
    prefix: NamespacePath | None, suffix: NamespacePath | None
) -> tuple[MatchCondition, ...] | None:
    conditions = []
    if prefix:
        conditions.append(MatchCondition("prefix", tuple(prefix)))
    if suffix:
        conditions.append(MatchCondition("suffix", tuple(suffix)))
    return tuple(conditions) or None


async def run_in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run blocking work (an embedding call, a SQLite query) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)
