"""Reach the running node's config, store and stream writer from anywhere in its call stack.

Example::

    from threadloom.config import get_config, get_stream_writer

    def node(state: dict) -> dict:
        user = get_config()["configurable"].get("user_id")
        get_stream_writer()({"progress": "looked up user"})
        return {"user": user}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.runnables import RunnableConfig

from threadloom._engine._context import current_scope
from threadloom.errors import StoreNotConfiguredError
from threadloom.types import StreamWriter

if TYPE_CHECKING:
    from threadloom.store.base import BaseStore

__all__ = ["get_config", "get_store", "get_stream_writer"]


def get_config() -> RunnableConfig:
    """The config of the running node (with its ``configurable`` and metadata)."""
    task = current_scope("get_config")
    if task.config is None:
        task.config = task.run.task_config(task)
    return task.config


def get_store() -> BaseStore:
    """The store the running graph was compiled with."""
    task = current_scope("get_store")
    store = task.run.store
    if store is None:
        raise StoreNotConfiguredError(
            f"node '{task.name}' called get_store(), but the graph was compiled without a "
            "store: pass store=... to compile()"
        )
    return store


def get_stream_writer() -> StreamWriter:
    """The ``custom`` stream writer of the running node (a no-op when not streamed)."""
    return current_scope("get_stream_writer").run.writer
