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
    "SaverOps",
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


def _to_end(op: Callable[..., Any], *args: Any) -> Any:
    """Run ``op``; an iterator it returns is read to the end here (in the worker thread)."""
    result = op(*args)
    return list(result) if isinstance(result, Iterator) else result


class SaverOps(BaseCheckpointSaver):
    """Every public method, sync and async, written once over six operations.

    A backend implements the operations (``_get_tuple_op``, ``_list_op``,
    ``_put_op``, ``_put_writes_op``, ``_delete_thread_op``,
    ``_peek_latest_op``) and, if they are not plain functions, how one runs:
    :meth:`_call` from sync code, :meth:`_acall` from async code. By default
    an operation runs inline; with ``_offload_to_thread`` the async methods
    run it in a worker thread (for a backend whose I/O blocks).
    """

    _offload_to_thread = False

    def _call(self, op: Callable[..., Any], *args: Any) -> Any:
        return op(*args)

    async def _acall(self, op: Callable[..., Any], *args: Any) -> Any:
        if self._offload_to_thread:
            # An iterator is read in the worker: reading it here would do the I/O on the event loop.
            return await asyncio.to_thread(_to_end, op, *args)
        return op(*args)

    # The operations a backend implements; each takes the public method's arguments, positionally.
    _get_tuple_op: Callable[[RunnableConfig], Any]
    _list_op: Callable[
        [RunnableConfig | None, dict[str, Any] | None, RunnableConfig | None, int | None], Any
    ]
    _put_op: Callable[[RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions], Any]
    _put_writes_op: Callable[[RunnableConfig, Sequence[tuple[str, Any]], str, str], Any]
    _delete_thread_op: Callable[[str], Any]
    _peek_latest_op: Callable[[RunnableConfig], Any]

    # --- sync API ---

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint addressed by ``config`` (the thread's latest without ``checkpoint_id``)."""
        result: CheckpointTuple | None = self._call(self._get_tuple_op, config)
        return result

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by id), optionally of one thread/namespace.

        ``filter`` keeps checkpoints whose metadata has equal values for its
        keys; ``before`` keeps ids older than that config's ``checkpoint_id``.
        """
        yield from self._call(self._list_op, config, filter, before, limit)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` as a child of ``config``'s checkpoint (only the channels in
        ``new_versions``); returns the new config."""
        result: RunnableConfig = self._call(
            self._put_op, config, checkpoint, metadata, new_versions
        )
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store the writes of task ``task_id`` against the checkpoint in ``config``."""
        self._call(self._put_writes_op, config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in every namespace."""
        self._call(self._delete_thread_op, thread_id)

    def peek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the latest checkpoint; decodes no values."""
        result: tuple[str, bool] | None = self._call(self._peek_latest_op, config)
        return result

    def get_next_version(
        self, current: ChannelVersion | None, channel: Any = None
    ) -> ChannelVersion:
        """A unique version above ``current`` (see :mod:`threadloom.checkpoint.base`)."""
        return unique_next_version(current)

    # --- async API: the same operations ---

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        result: CheckpointTuple | None = await self._acall(self._get_tuple_op, config)
        return result

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        for item in await self._acall(self._list_op, config, filter, before, limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        result: RunnableConfig = await self._acall(
            self._put_op, config, checkpoint, metadata, new_versions
        )
        return result

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        await self._acall(self._put_writes_op, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        await self._acall(self._delete_thread_op, thread_id)

    async def apeek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """Async twin of :meth:`peek_latest`."""
        result: tuple[str, bool] | None = await self._acall(self._peek_latest_op, config)
        return result
