"""Keeping only a thread's latest checkpoint: the mixin of the shallow savers (see ``shallow``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, TaskWrites
from threadloom.checkpoint.postgres._core import PostgresSaverCore
from threadloom.checkpoint.postgres._saver import PostgresSaver

__all__ = ["KeepsLatest", "ShallowPostgresSaver"]


def _warn(name: str) -> None:
    warnings.warn(
        f"{name} keeps no history and is deprecated, as in LangGraph: use "
        f"{name.replace('Shallow', '')} and invoke the graph with durability='exit' "
        "(or prune threads with prune(..., strategy='keep_latest'))",
        DeprecationWarning,
        stacklevel=3,
    )


def _thread(config: RunnableConfig) -> list[str]:
    return [str(config["configurable"]["thread_id"])]


if TYPE_CHECKING:  # the mixin's super() is a saver: PostgresSaver or AsyncPostgresSaver
    _Saver = PostgresSaverCore
else:
    _Saver = object


class KeepsLatest(_Saver):
    """After each stored checkpoint, the thread's older ones are dropped."""

    def __init__(
        self, conn: Any, pipe: Any = None, serde: Any = None, *, turn_timeout: float = 120.0
    ) -> None:
        name = type(self).__name__
        _warn(name)
        if pipe is not None:
            raise TypeError(f"{name} takes no pipeline: pass a connection or a pool")
        # The next class in the MRO is PostgresSaver or AsyncPostgresSaver, which take conn.
        super().__init__(conn, serde=serde, turn_timeout=turn_timeout)  # type: ignore[misc]

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = super().put(config, checkpoint, metadata, new_versions)
        self.prune(_thread(config))
        return stored

    def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        stored = super().put_step(config, checkpoint, metadata, new_versions, task_writes)
        self.prune(_thread(config))
        return stored

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = await super().aput(config, checkpoint, metadata, new_versions)
        await self.aprune(_thread(config))
        return stored

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        stored = await super().aput_step(config, checkpoint, metadata, new_versions, task_writes)
        await self.aprune(_thread(config))
        return stored


class ShallowPostgresSaver(KeepsLatest, PostgresSaver):
    """A :class:`PostgresSaver` that keeps only the latest checkpoint of each thread."""
