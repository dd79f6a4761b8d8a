"""The checkpointer interface: per-thread persistence of graph state.

A checkpoint is a snapshot of every channel of a graph after one superstep.
A saver stores checkpoints per ``thread_id`` (and checkpoint namespace, for
subgraphs), plus the *pending writes* of tasks that finished in a step that did
not complete, so that resuming does not re-run them.

Delta channels. Append-mostly channels (``messages``) would cost O(history)
per turn if every checkpoint re-serialized them. The engine may therefore hand
a saver a :class:`DeltaValue` instead of a full channel value: "the writes
applied to version ``base_version`` of this channel". A saver stores it as is
(only the new writes are serialized) and, on read, returns a
:class:`DeltaChain` — the nearest full snapshot plus the writes since — which
the channel replays. The engine bounds the chain by sending a full value every
so often, so reads stay fast.

Example::

    from threadloom.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "1"}}
    assert saver.get_tuple(config) is None
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, TypedDict, Union

from langchain_core.runnables import RunnableConfig

__all__ = [
    "BaseCheckpointSaver",
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "DeltaChain",
    "DeltaValue",
    "PendingWrite",
    "get_checkpoint_id",
]

ChannelVersion = Union[int, float, str]
ChannelVersions = dict[str, ChannelVersion]

PendingWrite = tuple[str, str, Any]
"""``(task_id, channel, value)``: a write made by a task whose step had not finished."""


class Checkpoint(TypedDict):
    """The state of a graph after one superstep."""

    v: int
    """Format version of this structure."""
    id: str
    """Unique and monotonically increasing (sortable) checkpoint id."""
    ts: str
    """ISO 8601 timestamp of creation."""
    channel_values: dict[str, Any]
    """Channel name -> value (or :class:`DeltaValue` when written, :class:`DeltaChain` when read)."""
    channel_versions: ChannelVersions
    """Channel name -> version; a version changes whenever the channel does."""
    versions_seen: dict[str, ChannelVersions]
    """Node name -> the channel versions it has already run on (decides what runs next)."""
    updated_channels: list[str] | None
    """Channels updated in the step that made this checkpoint."""


class CheckpointMetadata(TypedDict, total=False):
    """What a checkpoint is about; :meth:`BaseCheckpointSaver.list` can filter on it."""

    source: Literal["input", "loop", "update", "fork"]
    """``input`` (from invoke's input), ``loop`` (a step), ``update`` (update_state), ``fork`` (a copy)."""
    step: int
    """-1 for the input checkpoint, then 0, 1, ..."""
    parents: dict[str, str]
    """Checkpoint namespace -> checkpoint id of the parent graphs (subgraphs)."""
    run_id: str


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata, parent and pending writes."""

    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: RunnableConfig | None = None
    pending_writes: list[PendingWrite] | None = None


@dataclass(frozen=True)
class DeltaValue:
    """A channel value written as ``writes`` applied on top of ``base_version``.

    ``writes`` are the updates the channel received, in order, exactly as its
    reducer takes them. ``base_version`` is a version of the same channel in an
    earlier checkpoint of the same thread and namespace.
    """

    base_version: ChannelVersion
    writes: tuple[Any, ...]


@dataclass(frozen=True)
class DeltaChain:
    """A delta channel as read back: a snapshot and the writes to replay on it.

    ``snapshot`` is the last full value stored for the channel (``MISSING`` if
    the chain starts from an empty channel); ``writes`` are all later writes,
    oldest first. ``depth`` is how many deltas were joined (the engine sends a
    full value when it grows past its bound).
    """

    snapshot: Any
    writes: tuple[Any, ...] = ()
    depth: int = 0
    has_snapshot: bool = field(default=True)


def get_checkpoint_id(config: RunnableConfig) -> str | None:
    """The ``checkpoint_id`` in ``config["configurable"]``, if any."""
    return config.get("configurable", {}).get("checkpoint_id")


class BaseCheckpointSaver(ABC):
    """Abstract checkpointer. Backends implement the sync and async methods below.

    Configs address checkpoints through ``config["configurable"]``:
    ``thread_id`` (required), ``checkpoint_ns`` (``""`` for the root graph) and
    ``checkpoint_id`` (latest when absent).
    """

    serde: Any = None

    def __init__(self, *, serde: Any = None) -> None:
        if serde is not None:
            self.serde = serde
        elif self.serde is None:
            from threadloom.checkpoint.serde import JsonPlusSerializer

            self.serde = JsonPlusSerializer()

    # --- sync ---

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        """The checkpoint addressed by ``config`` (the latest of the thread by default)."""
        found = self.get_tuple(config)
        return found.checkpoint if found else None

    @abstractmethod
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple addressed by ``config``, or ``None``."""

    @abstractmethod
    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered by thread, metadata and ``before``."""

    @abstractmethod
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint``; only channels in ``new_versions`` changed. Returns its config."""

    @abstractmethod
    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store the writes of one finished task against the checkpoint in ``config``."""

    @abstractmethod
    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of ``thread_id``."""

    # --- async ---

    async def aget(self, config: RunnableConfig) -> Checkpoint | None:
        """Async twin of :meth:`get`."""
        found = await self.aget_tuple(config)
        return found.checkpoint if found else None

    @abstractmethod
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""

    @abstractmethod
    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""

    @abstractmethod
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""

    @abstractmethod
    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""

    @abstractmethod
    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""

    # --- cheap look-ups the engine uses to skip re-reading state it already holds ---

    def peek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the thread's latest checkpoint.

        The engine keeps the channels of a thread it just ran in memory; when
        the latest checkpoint is still the one it wrote (no other process or
        host advanced the thread) it skips deserializing the history. Backends
        override this with a query that reads no channel values.
        """
        found = self.get_tuple(config)
        if found is None:
            return None
        return found.checkpoint["id"], bool(found.pending_writes)

    async def apeek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """Async twin of :meth:`peek_latest`."""
        found = await self.aget_tuple(config)
        if found is None:
            return None
        return found.checkpoint["id"], bool(found.pending_writes)

    # --- versions ---

    def get_next_version(self, current: ChannelVersion | None, channel: Any = None) -> ChannelVersion:
        """The version that follows ``current`` (integers by default)."""
        if current is None:
            return 1
        if isinstance(current, int):
            return current + 1
        return int(str(current).split(".")[0]) + 1
