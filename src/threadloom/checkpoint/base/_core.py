"""The checkpointer interface and the encoding helpers savers share; public names are
re-exported by :mod:`threadloom.checkpoint.base` (see there).
"""

from __future__ import annotations

import copy
import functools
import inspect
import random
from abc import ABC
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, Literal, NamedTuple, TypedDict, TypeVar, cast
from uuid import UUID

from langchain_core.runnables import RunnableConfig
from typing_extensions import Self

from threadloom.checkpoint._loading import check_header, load_value
from threadloom.checkpoint._replay import ReplayedList, join_chain
from threadloom.checkpoint.id import uuid6
from threadloom.errors import (
    EmptyChannelError,
    InvalidCheckpointInputError,
    MissingThreadIdError,
    SerializationError,
)

ERROR = "__error__"
"""Pending-write channel: the error a task raised."""
SCHEDULED = "__scheduled__"
"""Pending-write channel: a task scheduled but not yet run."""
INTERRUPT = "__interrupt__"
"""Pending-write channel: the interrupts a task raised."""
RESUME = "__resume__"
"""Pending-write channel: the values a task resumes with."""
TASKS = "__pregel_tasks"
"""LangGraph's channel of a step's ``Send`` packets (threadloom's engine uses a channel of its own)."""

FORMAT_VERSION = 4
"""``Checkpoint["v"]`` of the checkpoints threadloom's engine writes. Before format 4, LangGraph
kept a step's ``Send`` packets as its parent's pending writes to :data:`TASKS`: savers attach
those to a checkpoint of an older format when they load it (the pending sends migration)."""

WRITES_IDX_MAP: dict[str, int] = {ERROR: -1, SCHEDULED: -2, INTERRUPT: -3, RESUME: -4}
"""Special channels and the fixed (negative) index their write is stored under."""

ChannelVersion = int | float | str
ChannelVersions = dict[str, ChannelVersion]

PendingWrite = tuple[str, str, Any]
"""``(task_id, channel, value)``: a write made by a task whose step had not finished."""

TaskWrites = tuple[str, str, Sequence[tuple[str, Any]]]
"""``(task_id, task_path, writes)``: what one task of a step wrote (see ``put_step``)."""


class Checkpoint(TypedDict):
    """The state of a graph after one superstep."""

    v: int
    """Format version of this structure."""
    id: str
    """Unique and monotonically increasing (sortable) checkpoint id."""
    ts: str
    """ISO 8601 timestamp of creation."""
    channel_values: dict[str, Any]
    """Channel name -> value (a :class:`DeltaValue` may stand for a value when written)."""
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


def get_thread_address(config: RunnableConfig) -> tuple[str, str, str | None]:
    """``(thread_id, checkpoint_ns, checkpoint_id)`` of ``config``.

    Raises :class:`~threadloom.errors.MissingThreadIdError` when there is no ``thread_id``.
    """
    configurable = config.get("configurable") if isinstance(config, Mapping) else None
    if not isinstance(configurable, Mapping) or configurable.get("thread_id") is None:
        raise MissingThreadIdError(
            'a checkpointer needs a thread id: pass config={"configurable": {"thread_id": ...}}'
        )
    thread_id = configurable["thread_id"]
    ns = configurable.get("checkpoint_ns") or ""
    if not isinstance(thread_id, (str, int, UUID)) or not isinstance(ns, str):
        raise MissingThreadIdError(
            f"thread_id must be a string (got {type(thread_id).__name__}) and checkpoint_ns a string"
        )
    checkpoint_id = configurable.get("checkpoint_id")
    return (
        _text_id(str(thread_id), "thread_id"),
        _text_id(ns, "checkpoint_ns"),
        None if checkpoint_id is None else _text_id(checkpoint_id, "checkpoint_id"),
    )


def _text_id(value: Any, name: str) -> str:
    """``value`` if it can be an id on every backend: a string without NUL or lone surrogates.

    Raises :class:`~threadloom.errors.InvalidCheckpointInputError` naming ``name`` otherwise
    (PostgreSQL text cannot hold NUL; no UTF-8 database can hold a lone surrogate).
    """
    if not isinstance(value, str):
        raise InvalidCheckpointInputError(
            f"{name} must be a string, got {type(value).__name__}: {value!r:.80}"
        )
    if value.isascii() and "\x00" not in value:
        return value  # the common case, without encoding
    if "\x00" in value:
        raise InvalidCheckpointInputError(f"{name} must not contain NUL characters: {value!r:.80}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidCheckpointInputError(
            f"{name} must be valid Unicode text (it holds a lone surrogate): {value!r:.80}"
        ) from None
    return value


def accepts_task_path(method: Any) -> bool:
    """Whether a saver's ``put_writes``/``aput_writes`` takes ``task_path`` (savers written for
    older LangGraph versions take three arguments; they are called with three, as LangGraph does)."""
    function = getattr(method, "__func__", None)
    if function is None:
        return _takes_task_path(method, bound=False)
    return _takes_task_path(function, bound=True)


@functools.lru_cache(maxsize=64)
def _takes_task_path(function: Any, *, bound: bool) -> bool:
    # One signature inspection per saver class (its unbound method), not one per call.
    try:
        params = list(inspect.signature(function).parameters.values())[1 if bound else 0 :]
    except (TypeError, ValueError):
        return True
    return len(params) >= 4 or any(
        p.name == "task_path" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    )


def _not_implemented(saver: Any, method: str) -> NotImplementedError:
    """The error of a method a saver does not override (a sync-only saver's async twins, say)."""
    return NotImplementedError(f"{type(saver).__name__} does not implement {method}()")


V = TypeVar("V", int, float, str)
"""The type of a saver's channel versions (``BaseCheckpointSaver[str]``, as in LangGraph)."""


class BaseCheckpointSaver(ABC, Generic[V]):
    """The checkpointer interface. A backend overrides the methods it supports; the others
    raise ``NotImplementedError`` (as LangGraph's), so a sync-only saver is a valid saver.

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

    def with_allowlist(self, extra_allowlist: Iterable[tuple[str, ...]]) -> Self:
        """A copy of this saver (``copy.copy``) whose serializer also loads the classes of
        the ``(module, name)`` pairs in ``extra_allowlist``, as LangGraph's method gives.

        threadloom's serializer needs no allowlist to load the types it knows; one
        narrowed with ``allowed_modules`` gets these modules added in the copy.
        """
        clone = copy.copy(self)
        serde = getattr(self, "serde", None)
        widen = getattr(serde, "with_modules", None)
        if widen is not None:
            clone.serde = widen(entry[0] for entry in extra_allowlist)
        return clone

    # --- sync ---

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        """The checkpoint addressed by ``config`` (the latest of the thread by default)."""
        found = self.get_tuple(config)
        return found.checkpoint if found else None

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint tuple addressed by ``config``, or ``None``."""
        raise _not_implemented(self, "get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, filtered by thread, metadata and ``before``."""
        raise _not_implemented(self, "list")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint``; only channels in ``new_versions`` changed. Returns its config."""
        raise _not_implemented(self, "put")

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store the writes of one finished task against the checkpoint in ``config``."""
        raise _not_implemented(self, "put_writes")

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of ``thread_id``."""
        raise _not_implemented(self, "delete_thread")

    def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        """Store the writes of a step's tasks against ``config``'s checkpoint (the one
        the step started from), then ``checkpoint``, the step's result, as its child.

        The engine saves a completed step with this one call, so that a thread's
        history shows what each task wrote. By default it is :meth:`put_writes`
        per task, then :meth:`put`; a backend may store it all in one transaction.
        """
        with_path = accepts_task_path(self.put_writes)
        for task_id, task_path, writes in task_writes:
            if with_path:
                self.put_writes(config, writes, task_id, task_path)
            else:
                self.put_writes(config, writes, task_id)
        return self.put(config, checkpoint, metadata, new_versions)

    # --- async ---

    async def aget(self, config: RunnableConfig) -> Checkpoint | None:
        """Async twin of :meth:`get`."""
        found = await self.aget_tuple(config)
        return found.checkpoint if found else None

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        raise _not_implemented(self, "aget_tuple")

    def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async twin of :meth:`list`."""
        raise _not_implemented(self, "alist")

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async twin of :meth:`put`."""
        raise _not_implemented(self, "aput")

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        raise _not_implemented(self, "aput_writes")

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        raise _not_implemented(self, "adelete_thread")

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        """Async twin of :meth:`put_step`."""
        with_path = accepts_task_path(self.aput_writes)
        for task_id, task_path, writes in task_writes:
            if with_path:
                await self.aput_writes(config, writes, task_id, task_path)
            else:
                await self.aput_writes(config, writes, task_id)
        return await self.aput(config, checkpoint, metadata, new_versions)

    # --- turns: a run that stops mid-turn says so, so that its turn stops holding the thread ---

    def release_turn(self, config: RunnableConfig) -> None:
        """The run that put ``config``'s checkpoint stopped (interrupt, error, cancellation).

        Savers that keep other writers from starting a turn in the middle of
        this one (see :mod:`threadloom.checkpoint._common`) let them in again;
        by default nothing happens.
        """
        return None  # optional for a saver: one without the rule has nothing to release

    async def arelease_turn(self, config: RunnableConfig) -> None:
        """Async twin of :meth:`release_turn`."""
        return None

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


def unique_next_version(current: ChannelVersion | None) -> float:
    """A version greater than ``current`` that no other branch will pick (see the module docstring)."""
    base = 0 if current is None else int(float(str(current).split(".")[0]))
    return base + 1 + random.random() / 2


# --- helpers shared by backends ------------------------------------------------


class StoredBlob(NamedTuple):
    """One stored channel version: a full value, a delta on ``base_version``, or empty."""

    kind: Literal["full", "delta", "empty"]
    base_version: ChannelVersion | None
    type_tag: str
    data: bytes


def _dumps(serde: Any, value: Any, what: str) -> tuple[str, bytes]:
    """``serde.dumps_typed(value)``; any failure is a :class:`SerializationError` naming ``what``."""
    try:
        return cast(tuple[str, bytes], serde.dumps_typed(value))
    except SerializationError:
        raise
    except (TypeError, ValueError) as error:  # e.g. a lone surrogate, which JSON cannot encode
        raise SerializationError(f"Cannot serialize {what}: {error}") from error


def encode_checkpoint(serde: Any, checkpoint: Checkpoint) -> tuple[str, bytes]:
    """The checkpoint without its channel values (those are stored as blobs)."""
    header = {k: v for k, v in checkpoint.items() if k != "channel_values"}
    return _dumps(serde, header, f"checkpoint {checkpoint.get('id')!r}")


def decode_checkpoint(
    serde: Any,
    header: tuple[str, bytes],
    fetch: Callable[[str, ChannelVersion], StoredBlob | None],
    cache: ChainCache | None = None,
) -> Checkpoint:
    """The checkpoint stored by :func:`encode_checkpoint`, its channel values read through ``fetch``."""
    checkpoint = check_header(load_value(serde, header, "checkpoint header"))
    checkpoint["channel_values"] = decode_channels(serde, checkpoint["channel_versions"], fetch, cache)
    result: Checkpoint = checkpoint
    return result


def encode_channels(
    serde: Any, checkpoint: Checkpoint, new_versions: ChannelVersions
) -> list[tuple[str, ChannelVersion, StoredBlob]]:
    """Serialize the channels in ``new_versions``: ``(channel, version, blob)`` rows.

    A :class:`DeltaValue` stores only its writes. Serialization errors are raised
    here, before a backend writes anything.
    """
    values = checkpoint["channel_values"]
    rows: list[tuple[str, ChannelVersion, StoredBlob]] = []
    for channel in (*checkpoint["channel_versions"], *new_versions):
        _text_id(channel, "a channel name")
    for channel, version in new_versions.items():
        if channel not in values:
            rows.append((channel, version, StoredBlob("empty", None, "", b"")))
            continue
        value = values[channel]
        if isinstance(value, ReplayedList):  # read back, put again (a fork): stored as its chain
            value = value.chain if value.is_unchanged() else list(value)
        if isinstance(value, DeltaValue):
            if value.base_version == version:
                raise ValueError(f"DeltaValue for channel {channel!r} names its own version {version!r} as base")
            type_tag, data = _dumps(serde, list(value.writes), f"channel {channel!r}")
            rows.append((channel, version, StoredBlob("delta", value.base_version, type_tag, data)))
        else:
            type_tag, data = _dumps(serde, value, f"channel {channel!r}")
            rows.append((channel, version, StoredBlob("full", None, type_tag, data)))
    return rows


class ChainCache:
    """Delta chains already rebuilt while listing one thread and namespace.

    :meth:`BaseCheckpointSaver.list` reads checkpoints newest first, and an
    older checkpoint's chain is a prefix of a newer one's: with a cache each
    stored delta is decoded once per listing instead of once per checkpoint
    that reaches it. ``key`` turns a version into the form the backend stores
    (so a float read from the header and its text read from a row agree).
    Chains handed out from the cache share their snapshot and writes objects.
    """

    def __init__(self, key: Callable[[ChannelVersion], Any] = lambda version: version) -> None:
        self._key = key
        self._chains: dict[tuple[str, Any], DeltaChain] = {}

    def get(self, channel: str, version: ChannelVersion) -> DeltaChain | None:
        """The chain rebuilt for ``version`` of ``channel``, if any."""
        return self._chains.get((channel, self._key(version)))

    def __contains__(self, item: tuple[str, ChannelVersion]) -> bool:
        return (item[0], self._key(item[1])) in self._chains

    def add(self, channel: str, version: ChannelVersion, chain: DeltaChain) -> None:
        """Remember ``chain`` as the value of ``version`` of ``channel``."""
        self._chains[(channel, self._key(version))] = chain


def decode_channels(
    serde: Any,
    channel_versions: Mapping[str, ChannelVersion],
    fetch: Callable[[str, ChannelVersion], StoredBlob | None],
    cache: ChainCache | None = None,
) -> dict[str, Any]:
    """Channel values for ``channel_versions``, reading blobs through ``fetch``.

    Delta channels come back as their plain list, joined from a :class:`DeltaChain`
    (see the module docstring) that the list keeps as its ``chain``;
    a chain whose base or one of whose deltas is not stored raises
    :class:`~threadloom.errors.SerializationError` (never a shortened history).
    With ``cache``, chains rebuilt earlier are reused and new ones are added.
    """
    values: dict[str, Any] = {}
    for channel, version in channel_versions.items():
        what = f"channel {channel!r}"
        chain = None if cache is None else cache.get(channel, version)
        if chain is None:
            blob = fetch(channel, version)
            if blob is None or blob.kind == "empty":
                continue
            if blob.kind == "full":
                value = load_value(serde, (blob.type_tag, blob.data), what)
                if not isinstance(value, DeltaChain):
                    values[channel] = value
                    continue
                chain = value  # a read value put back (a fork): stored as its chain
            else:
                chain = _corrupt_is_serialization_error(
                    what, _replay, serde, channel, version, blob, fetch, cache
                )
        values[channel] = _corrupt_is_serialization_error(what, join_chain, chain)
    return values


T = TypeVar("T")


def _corrupt_is_serialization_error(what: str, read: Callable[..., T], *args: Any) -> T:
    """``read(*args)``; a fault of the stored chain (not a list, a cycle, a removal of nothing) names ``what``."""
    try:
        return read(*args)
    except SerializationError:
        raise
    except Exception as e:
        raise SerializationError(f"{what}: {type(e).__name__}: {e}") from e


_MAX_CHAIN = 100_000  # far beyond any bound the engine uses; stops a corrupt cycle


def _replay(
    serde: Any,
    channel: str,
    version: ChannelVersion,
    blob: StoredBlob,
    fetch: Callable[[str, ChannelVersion], StoredBlob | None],
    cache: ChainCache | None,
) -> DeltaChain:
    what = f"channel {channel!r}"
    # Walk down to the snapshot (or to a chain already rebuilt), keeping each delta.
    parts: list[tuple[ChannelVersion, list[Any]]] = []
    current: StoredBlob | None = blob
    current_version = version
    while True:
        below = None if cache is None or not parts else cache.get(channel, current_version)
        if below is not None:
            break
        if current is None:
            raise SerializationError(
                f"{what}: the delta chain is broken: version {current_version!r} (the base of "
                f"version {parts[-1][0]!r}) is not stored, so the history cannot be rebuilt"
            )
        if current.kind != "delta":
            break
        if len(parts) >= _MAX_CHAIN:
            raise ValueError(f"delta chain of channel {channel!r} does not end (corrupt data?)")
        part = load_value(serde, (current.type_tag, current.data), what)
        if type(part) is not list:
            raise SerializationError(f"{what}: a stored delta is a {type(part).__name__}, not a list")
        parts.append((current_version, part))
        if current.base_version is None:
            raise SerializationError(f"{what}: a stored delta (version {current_version!r}) names no base")
        current_version = current.base_version
        current = fetch(channel, current_version)
    if below is None:
        below = _chain_root(serde, what, current)
    # Build up from the bottom: every level is the chain of its own version.
    for part_version, part in reversed(parts):
        below = DeltaChain(below.snapshot, below.writes + tuple(part), below.depth + 1, below.has_snapshot)
        if cache is not None:
            cache.add(channel, part_version, below)
    return below


def _chain_root(serde: Any, what: str, current: StoredBlob | None) -> DeltaChain:
    """The chain a delta sequence starts from: a full value, a stored chain (a fork) or an empty channel."""
    if current is None or current.kind == "empty":
        return DeltaChain(None, (), 0, False)
    if current.kind != "full":
        raise SerializationError(f"{what}: a stored value has the unknown kind {current.kind!r}")
    root = load_value(serde, (current.type_tag, current.data), what)
    if isinstance(root, DeltaChain):  # a forked copy of a chain read earlier
        return DeltaChain(root.snapshot, tuple(root.writes), root.depth, root.has_snapshot)
    return DeltaChain(root, (), 0, True)


# --- building checkpoints by hand (LangGraph's helpers, for tests and tools) ---

LATEST_VERSION = 1
"""``Checkpoint["v"]`` of the checkpoints :func:`empty_checkpoint` and :func:`create_checkpoint`
build (LangGraph's helpers also stamp a format before :data:`FORMAT_VERSION`)."""


def empty_checkpoint() -> Checkpoint:
    """A checkpoint with no channels, a fresh id and the current time."""
    return Checkpoint(
        v=LATEST_VERSION,
        id=str(uuid6(clock_seq=-2)),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values={},
        channel_versions={},
        versions_seen={},
        updated_channels=None,
    )


def copy_checkpoint(checkpoint: Checkpoint) -> Checkpoint:
    """A copy whose dicts (values, versions, versions seen) can change without touching ``checkpoint``."""
    updated = checkpoint.get("updated_channels")
    return Checkpoint(
        v=checkpoint["v"],
        id=checkpoint["id"],
        ts=checkpoint["ts"],
        channel_values=dict(checkpoint["channel_values"]),
        channel_versions=dict(checkpoint["channel_versions"]),
        versions_seen={k: dict(v) for k, v in checkpoint["versions_seen"].items()},
        updated_channels=None if updated is None else list(updated),
    )


def create_checkpoint(
    checkpoint: Checkpoint,
    channels: Mapping[str, Any] | None,
    step: int,
    *,
    id: str | None = None,
) -> Checkpoint:
    """The next checkpoint after ``checkpoint``: the values of ``channels`` (or ``checkpoint``'s own).

    Only channels that ``checkpoint`` has a version for are kept, and empty ones
    are left out. The id is a fresh :func:`~threadloom.checkpoint.id.uuid6`
    carrying ``step`` unless ``id`` is given.
    """
    # channels import this module (delta values), so MISSING is imported on use
    from threadloom.channels.base import MISSING

    if channels is None:
        values = checkpoint["channel_values"]
    else:
        values = {}
        for key, channel in channels.items():
            if key not in checkpoint["channel_versions"]:
                continue
            try:
                value = channel.checkpoint()
            except EmptyChannelError:
                continue
            if value is not MISSING:
                values[key] = value
    return Checkpoint(
        v=LATEST_VERSION,
        id=id or str(uuid6(clock_seq=step)),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values=values,
        channel_versions=checkpoint["channel_versions"],
        versions_seen=checkpoint["versions_seen"],
        updated_channels=None,
    )
