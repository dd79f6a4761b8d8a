"""The store as the conformance suites see it: :class:`StoreClient` and the shared fixtures' data."""

from __future__ import annotations

import asyncio
from typing import Any

from threadloom.store.base import BaseStore, IndexConfig
from threadloom.testing.embeddings import HashingEmbed

__all__ = ["DIMS", "LONG_TTL", "NS", "SHORT_TTL", "StoreClient", "index_config"]

DIMS = 64
NS = ("memories", "u1")
# Minutes; small so TTL tests take a fraction of a second.
SHORT_TTL = 0.002  # 0.12 s
LONG_TTL = 60.0


class StoreClient:
    """A store seen through one flavour of its API; every method is awaitable.

    ``sync`` calls ``get``/``put``/... (in a worker thread for async stores),
    ``async`` calls ``aget``/``aput``/....
    """

    def __init__(self, store: BaseStore, flavour: str, *, in_thread: bool) -> None:
        self.store = store
        self.flavour = flavour
        self.in_thread = in_thread

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.flavour == "async":
            return await getattr(self.store, "a" + name)(*args, **kwargs)
        method = getattr(self.store, name)
        if self.in_thread:
            return await asyncio.to_thread(method, *args, **kwargs)
        return method(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        """``get`` / ``aget``."""
        return await self._call("get", *args, **kwargs)

    async def put(self, *args: Any, **kwargs: Any) -> None:
        """``put`` / ``aput``."""
        await self._call("put", *args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        """``delete`` / ``adelete``."""
        await self._call("delete", *args, **kwargs)

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        """``search`` / ``asearch``."""
        return await self._call("search", *args, **kwargs)

    async def list_namespaces(self, **kwargs: Any) -> Any:
        """``list_namespaces`` / ``alist_namespaces``."""
        return await self._call("list_namespaces", **kwargs)

    async def delete_namespace(self, *args: Any) -> Any:
        """``delete_namespace`` / ``adelete_namespace``."""
        return await self._call("delete_namespace", *args)

    async def batch(self, ops: list[Any]) -> Any:
        """``batch`` / ``abatch``."""
        return await self._call("batch", ops)

    async def dump_items(self, *args: Any, **kwargs: Any) -> Any:
        """``dump_items`` / ``adump_items``."""
        return await self._call("dump_items", *args, **kwargs)

    async def load_items(self, *args: Any, **kwargs: Any) -> Any:
        """``load_items`` / ``aload_items``."""
        return await self._call("load_items", *args, **kwargs)

    async def wipe(self) -> None:
        """Delete every item (each top-level namespace), leaving an empty store."""
        for (label,) in await self.list_namespaces(max_depth=1, limit=1000):
            await self.delete_namespace((label,))

    async def keys(self, prefix: tuple[str, ...] = (), **kwargs: Any) -> list[str]:
        """Keys a search returns, in order (limit 100 unless given)."""
        kwargs.setdefault("limit", 100)
        return [item.key for item in await self.search(prefix, **kwargs)]


def index_config(embed: Any = None, fields: list[str] | None = None) -> IndexConfig:
    """An index config using a :class:`HashingEmbed` of :data:`DIMS` dims unless ``embed`` is given."""
    config: IndexConfig = {"dims": DIMS, "embed": embed or HashingEmbed(DIMS)}
    if fields is not None:
        config["fields"] = fields
    return config
