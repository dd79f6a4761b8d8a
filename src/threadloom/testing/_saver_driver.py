"""Calling a checkpointer through one awaitable API, sync or async (private to the suites)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, cast

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersion,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from threadloom.checkpoint.base._core import FORMAT_VERSION

__all__ = ["SaverDriver", "make_checkpoint", "thread"]

_ids = itertools.count(1)


def _new_id() -> str:
    """Increasing within a process, unique across processes (writers in several processes share a thread)."""
    return f"{time.time_ns():020d}{os.getpid() % 100_000:05d}{next(_ids):07d}"


def make_checkpoint(
    values: dict[str, Any],
    versions: dict[str, ChannelVersion],
    *,
    checkpoint_id: str | None = None,
    versions_seen: dict[str, dict[str, ChannelVersion]] | None = None,
    v: int = FORMAT_VERSION,
) -> Checkpoint:
    """A checkpoint with a fresh, increasing id (ids sort in creation order, like the engine's),
    in the engine's format unless ``v`` says otherwise."""
    return {
        "v": v,
        "id": checkpoint_id or _new_id(),
        "ts": datetime.now(timezone.utc).isoformat(),
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": versions_seen or {},
        "updated_channels": sorted(values),
    }


def thread(thread_id: str, ns: str = "") -> RunnableConfig:
    """The config of a thread (and namespace), latest checkpoint."""
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}


class SaverDriver:
    """Calls a saver through its sync methods or its async twins, with one awaitable API."""

    def __init__(self, saver: BaseCheckpointSaver, flavour: str) -> None:
        self.saver = saver
        self.is_async = flavour == "async"

    async def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: dict[str, Any] | None = None,
        new_versions: dict[str, ChannelVersion] | None = None,
    ) -> RunnableConfig:
        # Metadata may carry keys beyond the TypedDict's (run ids, user tags, ...).
        meta = cast(CheckpointMetadata, metadata if metadata is not None else {"source": "loop", "step": 0})
        versions = new_versions if new_versions is not None else dict(checkpoint["channel_versions"])
        if self.is_async:
            return await self.saver.aput(config, checkpoint, meta, versions)
        return self.saver.put(config, checkpoint, meta, versions)

    async def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if self.is_async:
            return await self.saver.aget_tuple(config)
        return self.saver.get_tuple(config)

    async def list(self, config: RunnableConfig | None, **kwargs: Any) -> list[CheckpointTuple]:
        if self.is_async:
            return [t async for t in self.saver.alist(config, **kwargs)]
        return list(self.saver.list(config, **kwargs))

    async def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        if self.is_async:
            await self.saver.aput_writes(config, writes, task_id, task_path)
        else:
            self.saver.put_writes(config, writes, task_id, task_path)

    async def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        task_writes: Sequence[tuple[str, str, Sequence[tuple[str, Any]]]],
    ) -> RunnableConfig:
        meta = cast(CheckpointMetadata, {"source": "loop", "step": 1})
        versions = dict(checkpoint["channel_versions"])
        if self.is_async:
            return await self.saver.aput_step(config, checkpoint, meta, versions, task_writes)
        return self.saver.put_step(config, checkpoint, meta, versions, task_writes)

    async def delete_thread(self, thread_id: str) -> None:
        if self.is_async:
            await self.saver.adelete_thread(thread_id)
        else:
            self.saver.delete_thread(thread_id)

    async def peek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        if self.is_async:
            return await self.saver.apeek_latest(config)
        return self.saver.peek_latest(config)

    async def release_turn(self, config: RunnableConfig) -> None:
        if self.is_async:
            await self.saver.arelease_turn(config)
        else:
            self.saver.release_turn(config)

    def next_version(self, current: ChannelVersion | None) -> ChannelVersion:
        return self.saver.get_next_version(current, None)
