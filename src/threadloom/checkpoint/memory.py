"""An in-process checkpointer: fast, thread-safe, gone when the process exits.

Values are stored serialized, per ``(thread_id, checkpoint_ns, channel,
version)``, exactly as the SQLite saver stores them: a checkpoint writes only
the channels that changed, a :class:`~threadloom.checkpoint.base.DeltaValue`
writes only its new writes, and a returned value is always a fresh copy.

Example::

    from threadloom.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "1"}}
    checkpoint = {"v": 1, "id": "0001", "ts": "2026-01-01T00:00:00+00:00",
                  "channel_values": {"count": 1}, "channel_versions": {"count": 1},
                  "versions_seen": {}, "updated_channels": ["count"]}
    saved = saver.put(config, checkpoint, {"source": "input", "step": -1}, {"count": 1})
    assert saver.get_tuple(saved).checkpoint["channel_values"] == {"count": 1}
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    StoredBlob,
    decode_checkpoint,
    encode_channels,
    encode_checkpoint,
    get_thread_address,
    metadata_matches,
    unique_next_version,
)

__all__ = ["InMemorySaver", "MemorySaver"]


@dataclass
class _Saved:
    header: tuple[str, bytes]
    metadata: tuple[str, bytes]
    parent_id: str | None


@dataclass
class _Namespace:
    """Everything stored for one (thread, checkpoint_ns)."""

    checkpoints: dict[str, _Saved] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # sorted ascending: newest is last
    blobs: dict[tuple[str, ChannelVersion], StoredBlob] = field(default_factory=dict)
    # checkpoint id -> (task_id, idx) -> (channel, type_tag, data, task_path)
    writes: dict[str, dict[tuple[str, int], tuple[str, str, bytes, str]]] = field(default_factory=dict)


class InMemorySaver(BaseCheckpointSaver):
    """Checkpointer that keeps every thread in this process's memory.

    Safe to share between threads; the async methods run inline (there is no I/O).
    """

    def __init__(self, *, serde: Any = None) -> None:
        super().__init__(serde=serde)
        self._lock = threading.RLock()
        self._threads: dict[str, dict[str, _Namespace]] = {}

    # --- reads ---

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint addressed by ``config`` (the thread's latest without ``checkpoint_id``)."""
        thread_id, ns, checkpoint_id = get_thread_address(config)
        with self._lock:
            space = self._threads.get(thread_id, {}).get(ns)
            if space is None or not space.ids:
                return None
            if checkpoint_id is None:
                checkpoint_id = space.ids[-1]
            elif checkpoint_id not in space.checkpoints:
                return None
            return self._tuple(thread_id, ns, checkpoint_id, space)

    def _tuple(self, thread_id: str, ns: str, checkpoint_id: str, space: _Namespace) -> CheckpointTuple:
        saved = space.checkpoints[checkpoint_id]
        checkpoint = decode_checkpoint(self.serde, saved.header, lambda c, v: space.blobs.get((c, v)))
        writes: list[PendingWrite] = [
            (task_id, channel, self.serde.loads_typed((type_tag, data)))
            for (task_id, _), (channel, type_tag, data, _) in space.writes.get(checkpoint_id, {}).items()
        ]
        parent = (
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": saved.parent_id}}
            if saved.parent_id
            else None
        )
        return CheckpointTuple(
            config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}},
            checkpoint=checkpoint,
            metadata=self.serde.loads_typed(saved.metadata),
            parent_config=parent,  # type: ignore[arg-type]
            pending_writes=writes,
        )

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
        configurable = (config or {}).get("configurable", {})
        thread_filter = configurable.get("thread_id")
        ns_filter = configurable.get("checkpoint_ns")
        id_filter = configurable.get("checkpoint_id")
        before_id = (before or {}).get("configurable", {}).get("checkpoint_id")
        if limit is not None and limit <= 0:
            return
        with self._lock:
            candidates = [
                (checkpoint_id, thread_id, ns)
                for thread_id, spaces in self._threads.items()
                if thread_filter is None or thread_id == str(thread_filter)
                for ns, space in spaces.items()
                if ns_filter is None or ns == ns_filter
                for checkpoint_id in space.ids
                if (id_filter is None or checkpoint_id == id_filter)
                and (before_id is None or checkpoint_id < before_id)
            ]
        candidates.sort(reverse=True)
        found = 0
        for checkpoint_id, thread_id, ns in candidates:
            with self._lock:
                space = self._threads.get(thread_id, {}).get(ns)
                if space is None or checkpoint_id not in space.checkpoints:
                    continue  # deleted while we iterate
                if filter and not metadata_matches(
                    self.serde.loads_typed(space.checkpoints[checkpoint_id].metadata), filter
                ):
                    continue
                item = self._tuple(thread_id, ns, checkpoint_id, space)
            yield item
            found += 1
            if limit is not None and found >= limit:
                return

    def peek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the latest checkpoint, without decoding it."""
        thread_id, ns, _ = get_thread_address(config)
        with self._lock:
            space = self._threads.get(thread_id, {}).get(ns)
            if space is None or not space.ids:
                return None
            latest = space.ids[-1]
            return latest, bool(space.writes.get(latest))

    # --- writes ---

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` as a child of ``config``'s checkpoint; returns the new config."""
        thread_id, ns, parent_id = get_thread_address(config)
        checkpoint_id = checkpoint["id"]
        # Serialize everything before touching the store: a bad value leaves it unchanged.
        blobs = encode_channels(self.serde, checkpoint, new_versions)
        header = encode_checkpoint(self.serde, checkpoint)
        meta = self.serde.dumps_typed(dict(metadata))
        with self._lock:
            space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            for channel, version, blob in blobs:
                space.blobs[(channel, version)] = blob
            if checkpoint_id not in space.checkpoints:
                bisect.insort(space.ids, checkpoint_id)
            space.checkpoints[checkpoint_id] = _Saved(header, meta, parent_id)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store the writes of task ``task_id`` against the checkpoint in ``config``."""
        thread_id, ns, checkpoint_id = get_thread_address(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs a config with the checkpoint_id the writes belong to")
        encoded = [
            (WRITES_IDX_MAP.get(channel, idx), channel, *self.serde.dumps_typed(value))
            for idx, (channel, value) in enumerate(writes)
        ]
        with self._lock:
            space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            stored = space.writes.setdefault(checkpoint_id, {})
            for idx, channel, type_tag, data in encoded:
                key = (task_id, idx)
                # Special writes replace; ordinary writes keep the first copy (a retried call is a no-op).
                if idx >= 0 and key in stored:
                    continue
                stored[key] = (channel, type_tag, data, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in every namespace."""
        with self._lock:
            self._threads.pop(str(thread_id), None)

    def get_next_version(self, current: ChannelVersion | None, channel: Any = None) -> ChannelVersion:
        """A unique version above ``current`` (see :mod:`threadloom.checkpoint.base`)."""
        return unique_next_version(current)

    # --- async twins: no I/O, so they run inline ---

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        self.delete_thread(thread_id)

    async def apeek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """Async twin of :meth:`peek_latest`."""
        return self.peek_latest(config)


MemorySaver = InMemorySaver
"""Alias of :class:`InMemorySaver`, the name older code uses."""
