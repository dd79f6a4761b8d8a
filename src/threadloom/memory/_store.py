"""Which store a memory call uses: the one given, else the running graph's."""

from __future__ import annotations

from threadloom.errors import StoreNotConfiguredError
from threadloom.store.base import BaseStore

__all__ = ["resolve_store"]


def resolve_store(store: BaseStore | None) -> BaseStore:
    """``store``, else the store of the running graph; a clear error when there is neither."""
    if store is not None:
        return store
    from threadloom.config import get_store

    try:
        return get_store()
    except RuntimeError as exc:
        raise StoreNotConfiguredError(
            "No store: pass store=... or call this from a graph node compiled with a store"
        ) from exc
