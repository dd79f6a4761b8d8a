"""An in-process checkpointer: fast, thread-safe, gone when the process exits.

Values are stored serialized, per ``(thread_id, checkpoint_ns, channel,
version)``, exactly as the SQLite saver stores them: a checkpoint writes only
the channels that changed, a :class:`~threadloom.checkpoint.base.DeltaValue`
writes only its new writes, and a returned value is always a fresh copy.

Example::

    from threadloom.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "1"}}
    checkpoint = {"v": 4, "id": "0001", "ts": "2026-01-01T00:00:00+00:00",
                  "channel_values": {"count": 1}, "channel_versions": {"count": 1},
                  "versions_seen": {}, "updated_channels": ["count"]}
    saved = saver.put(config, checkpoint, {"source": "input", "step": -1}, {"count": 1})
    assert saver.get_tuple(saved).checkpoint["channel_values"] == {"count": 1}
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint._common import (
    PAUSED_CHANNELS,
    Head,
    PutGuard,
    SaverOps,
    attach_sends,
    checkpoint_config,
    encode_metadata,
    encode_writes,
    list_scope,
    needs_sends,
    stored_tuple,
    take,
    writes_address,
)
from threadloom.checkpoint._loading import load_metadata, load_value, load_write, stored_context
from threadloom.checkpoint.base import (
    ChainCache,
    ChannelVersion,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    StoredBlob,
    TaskWrites,
    decode_checkpoint,
    encode_channels,
    encode_checkpoint,
    get_thread_address,
    metadata_matches,
)
from threadloom.checkpoint.base._core import TASKS

__all__ = ["InMemorySaver", "MemorySaver"]


@dataclass
class _Saved:
    header: tuple[str, bytes]
    metadata: tuple[str, bytes]
    parent_id: str | None
    writer: str = ""
    open_turn: bool = False
    created: float = 0.0


@dataclass
class _Namespace:
    """Everything stored for one (thread, checkpoint_ns)."""

    checkpoints: dict[str, _Saved] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # sorted ascending: newest is last
    blobs: dict[tuple[str, ChannelVersion], StoredBlob] = field(default_factory=dict)
    # checkpoint id -> (task_id, idx) -> (channel, type_tag, data, task_path)
    writes: dict[str, dict[tuple[str, int], tuple[str, str, bytes, str]]] = field(default_factory=dict)


class InMemorySaver(SaverOps):
    """Checkpointer that keeps every thread in this process's memory.

    Safe to share between threads; the async methods run inline (there is no I/O).
    Two threads (or tasks) taking turns on one thread at once cannot both extend
    it: the second ``put`` raises :class:`~threadloom.errors.CheckpointConflictError`
    (see :mod:`threadloom.checkpoint._common` for the rule and ``turn_timeout``).
    """

    def __init__(self, *, serde: Any = None, turn_timeout: float = 120.0) -> None:
        super().__init__(serde=serde, turn_timeout=turn_timeout)
        self._lock = threading.RLock()
        self._threads: dict[str, dict[str, _Namespace]] = {}

    # --- reads ---

    def _get_tuple_op(self, config: RunnableConfig) -> CheckpointTuple | None:
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

    def _tuple(
        self, thread_id: str, ns: str, checkpoint_id: str, space: _Namespace, cache: ChainCache | None = None
    ) -> CheckpointTuple:
        saved = space.checkpoints[checkpoint_id]
        with stored_context(thread_id, ns, checkpoint_id):
            checkpoint = decode_checkpoint(self.serde, saved.header, lambda c, v: space.blobs.get((c, v)), cache)
            writes: list[PendingWrite] = [
                load_write(self.serde, task_id, channel, (type_tag, data))
                for (task_id, _), (channel, type_tag, data, _) in space.writes.get(checkpoint_id, {}).items()
            ]
            metadata = load_metadata(self.serde, saved.metadata)
            if needs_sends(checkpoint, saved.parent_id):
                parent_writes = space.writes.get(saved.parent_id or "", {}).values()
                sends = [
                    load_value(self.serde, (type_tag, data), f"pending send {i}")
                    for i, (channel, type_tag, data, _) in enumerate(parent_writes)
                    if channel == TASKS
                ]
                attach_sends(checkpoint, sends, self.get_next_version)
        return stored_tuple(thread_id, ns, checkpoint_id, saved.parent_id, checkpoint, metadata, writes)

    def _list_op(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by id), optionally of one thread/namespace.

        ``filter`` keeps checkpoints whose metadata has equal values for its
        keys; ``before`` keeps ids older than that config's ``checkpoint_id``.
        """
        if limit is not None and limit <= 0:
            return
        scope = list_scope(config, before)
        with self._lock:
            candidates = [
                (checkpoint_id, thread_id, ns)
                for thread_id, spaces in self._threads.items()
                if scope.thread_id is None or thread_id == scope.thread_id
                for ns, space in spaces.items()
                if scope.ns is None or ns == scope.ns
                for checkpoint_id in space.ids
                if (scope.checkpoint_id is None or checkpoint_id == scope.checkpoint_id)
                and (scope.before_id is None or checkpoint_id < scope.before_id)
            ]
        candidates.sort(reverse=True)
        yield from take(self._matching(candidates, filter), None, limit)

    def _matching(
        self, candidates: Sequence[tuple[str, str, str]], filter: dict[str, Any] | None
    ) -> Iterator[CheckpointTuple]:
        # Metadata is matched before the checkpoint is decoded: most rejected ones cost no decode.
        caches: dict[tuple[str, str], ChainCache] = {}  # older chains are prefixes of newer ones
        for checkpoint_id, thread_id, ns in candidates:
            with self._lock:
                space = self._threads.get(thread_id, {}).get(ns)
                if space is None or checkpoint_id not in space.checkpoints:
                    continue  # deleted while we iterate
                if filter:
                    with stored_context(thread_id, ns, checkpoint_id):
                        metadata = load_metadata(self.serde, space.checkpoints[checkpoint_id].metadata)
                    if not metadata_matches(metadata, filter):
                        continue
                cache = caches.setdefault((thread_id, ns), ChainCache())
                item = self._tuple(thread_id, ns, checkpoint_id, space, cache)
            yield item

    def _peek_latest_op(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the latest checkpoint, without decoding it."""
        thread_id, ns, _ = get_thread_address(config)
        with self._lock:
            space = self._threads.get(thread_id, {}).get(ns)
            if space is None or not space.ids:
                return None
            latest = space.ids[-1]
            return latest, bool(space.writes.get(latest))

    # --- writes ---

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
    ) -> RunnableConfig:
        """Store ``checkpoint`` as a child of ``config``'s checkpoint; returns the new config."""
        thread_id, ns, parent_id = get_thread_address(config)
        checkpoint_id = checkpoint["id"]
        # Serialize everything before touching the store: a bad value leaves it unchanged.
        blobs = encode_channels(self.serde, checkpoint, new_versions)
        header = encode_checkpoint(self.serde, checkpoint)
        meta = encode_metadata(self.serde, metadata)
        with self._lock:
            space = self._threads.get(thread_id, {}).get(ns)
            if guard.needs_head(parent_id):
                guard.check(thread_id, parent_id, checkpoint_id, self._head(space), ns)
            if space is None:
                space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            for channel, version, blob in blobs:
                space.blobs[(channel, version)] = blob
            if checkpoint_id not in space.checkpoints:
                bisect.insort(space.ids, checkpoint_id)
            space.checkpoints[checkpoint_id] = _Saved(
                header, meta, parent_id, guard.writer, guard.open_turn, time.monotonic()
            )
        return checkpoint_config(thread_id, ns, checkpoint_id)

    @staticmethod
    def _head(space: _Namespace | None) -> Head | None:
        if space is None or not space.ids:
            return None
        latest = space.ids[-1]
        saved = space.checkpoints[latest]
        paused = any(w[0] in PAUSED_CHANNELS for w in space.writes.get(latest, {}).values())
        return Head(latest, saved.writer, saved.open_turn, time.monotonic() - saved.created, paused)

    def _put_writes_op(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> None:
        """Store the writes of task ``task_id`` against the checkpoint in ``config``."""
        self._store_writes(config, encode_writes(self.serde, writes), task_id, task_path)

    def _store_writes(
        self, config: RunnableConfig, encoded: list[Any], task_id: str, task_path: str
    ) -> None:
        thread_id, ns, checkpoint_id = writes_address(config)
        with self._lock:
            space = self._threads.setdefault(thread_id, {}).setdefault(ns, _Namespace())
            stored = space.writes.setdefault(checkpoint_id, {})
            for idx, channel, type_tag, data in encoded:
                key = (task_id, idx)
                # Special writes replace; ordinary writes keep the first copy (a retried call is a no-op).
                if idx >= 0 and key in stored:
                    continue
                stored[key] = (channel, type_tag, data, task_path)

    def _put_step_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
        task_writes: list[TaskWrites],
    ) -> RunnableConfig:
        """``checkpoint``, then the tasks' writes against ``config``'s checkpoint (a put the
        concurrency rule refuses stores no writes either)."""
        # Encoded first: a value that cannot be stored leaves the saver unchanged.
        encoded = [(tid, path, encode_writes(self.serde, w)) for tid, path, w in task_writes]
        stored = self._put_op(config, checkpoint, metadata, new_versions, guard)
        for task_id, task_path, rows in encoded:
            self._store_writes(config, rows, task_id, task_path)
        return stored

    def _release_turn_op(self, thread_id: str, ns: str, checkpoint_id: str, writer: str) -> None:
        """The writer's turn at this checkpoint stopped: it no longer holds the thread."""
        with self._lock:
            space = self._threads.get(thread_id, {}).get(ns)
            saved = None if space is None else space.checkpoints.get(checkpoint_id)
            if saved is not None and saved.writer == writer:
                saved.open_turn = False

    def _delete_thread_op(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in every namespace."""
        with self._lock:
            self._threads.pop(str(thread_id), None)


MemorySaver = InMemorySaver
"""Alias of :class:`InMemorySaver`, the name older code uses."""
