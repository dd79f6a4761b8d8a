"""Rules every shipped checkpoint saver follows, written once.

Backends differ in where bytes go; how a config addresses a checkpoint, how
pending writes are numbered and how a stored checkpoint becomes a
:class:`~threadloom.checkpoint.base.CheckpointTuple` must not differ, so they
live here. Backends import this module (and :mod:`.base`), never each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersion,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_thread_address,
    metadata_matches,
    unique_next_version,
)

__all__ = [
    "EncodedWrite",
    "ListScope",
    "SyncBackedSaver",
    "UniqueVersionSaver",
    "checkpoint_config",
    "encode_writes",
    "list_scope",
    "stored_tuple",
    "take",
    "writes_address",
]

T = TypeVar("T")

EncodedWrite = tuple[int, str, str, bytes]
"""``(idx, channel, type_tag, data)`` of one pending write, ready to store."""


def checkpoint_config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    """The config that addresses one stored checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def stored_tuple(
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    parent_id: str | None,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    pending_writes: list[PendingWrite],
) -> CheckpointTuple:
    """A :class:`CheckpointTuple` from its stored parts (no parent config for a root checkpoint)."""
    return CheckpointTuple(
        config=checkpoint_config(thread_id, ns, checkpoint_id),
        checkpoint=checkpoint,
        metadata=metadata,
        parent_config=checkpoint_config(thread_id, ns, parent_id) if parent_id else None,
        pending_writes=pending_writes,
    )


class ListScope(NamedTuple):
    """What ``list(config, before=...)`` narrows to; ``None`` means "any"."""

    thread_id: str | None
    ns: str | None
    checkpoint_id: str | None
    before_id: str | None


def list_scope(config: RunnableConfig | None, before: RunnableConfig | None) -> ListScope:
    """The thread, namespace, id and ``before`` id that ``list`` filters on (all optional there)."""
    configurable = (config or {}).get("configurable", {})
    thread_id = configurable.get("thread_id")
    return ListScope(
        None if thread_id is None else str(thread_id),
        configurable.get("checkpoint_ns"),
        configurable.get("checkpoint_id"),
        (before or {}).get("configurable", {}).get("checkpoint_id"),
    )


def take(
    items: Iterable[CheckpointTuple], filter: Mapping[str, Any] | None, limit: int | None
) -> Iterator[CheckpointTuple]:
    """The first ``limit`` of ``items`` whose metadata matches ``filter``."""
    if limit is not None and limit <= 0:
        return
    found = 0
    for item in items:
        if filter and not metadata_matches(item.metadata, filter):
            continue
        yield item
        found += 1
        if limit is not None and found >= limit:
            return


def writes_address(config: RunnableConfig) -> tuple[str, str, str]:
    """``(thread_id, checkpoint_ns, checkpoint_id)`` for ``put_writes``, which needs all three."""
    thread_id, ns, checkpoint_id = get_thread_address(config)
    if checkpoint_id is None:
        raise ValueError("put_writes needs a config with the checkpoint_id the writes belong to")
    return thread_id, ns, checkpoint_id


def encode_writes(serde: Any, writes: Sequence[tuple[str, Any]]) -> list[EncodedWrite]:
    """Serialize a task's writes, numbered as stored.

    A write to a channel in ``WRITES_IDX_MAP`` takes that channel's fixed
    negative index (so a later one replaces it); any other write keeps its
    position (so a retried call finds it stored and keeps the first copy).
    Serialization errors are raised here, before a backend writes anything.
    """
    return [
        (WRITES_IDX_MAP.get(channel, idx), channel, *serde.dumps_typed(value))
        for idx, (channel, value) in enumerate(writes)
    ]


class UniqueVersionSaver(BaseCheckpointSaver):
    """A saver whose versions never collide across branches (see :mod:`threadloom.checkpoint.base`)."""

    def get_next_version(
        self, current: ChannelVersion | None, channel: Any = None
    ) -> ChannelVersion:
        """A unique version above ``current`` (see :mod:`threadloom.checkpoint.base`)."""
        return unique_next_version(current)


class SyncBackedSaver(UniqueVersionSaver):
    """A saver written once, synchronously; its async twins call the sync methods.

    :meth:`_offload` decides how: inline (nothing blocks) or in a worker
    thread (the sync code does I/O).
    """

    _offload_to_thread = False

    async def _offload(self, fn: Callable[..., T], *args: Any) -> T:
        if self._offload_to_thread:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        return await self._offload(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        items = self.list(config, filter=filter, before=before, limit=limit)
        if self._offload_to_thread:
            # Read everything in the worker: iterating here would run the reads on the event loop.
            items = iter(await asyncio.to_thread(list, items))
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        return await self._offload(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        await self._offload(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        await self._offload(self.delete_thread, thread_id)

    async def apeek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """Async twin of :meth:`peek_latest`."""
        return await self._offload(self.peek_latest, config)
