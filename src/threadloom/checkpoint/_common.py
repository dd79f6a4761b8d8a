"""Rules every shipped checkpoint saver follows, written once.

Backends differ in where bytes go; how a config addresses a checkpoint, how
pending writes are numbered and how a stored checkpoint becomes a
:class:`~threadloom.checkpoint.base.CheckpointTuple` must not differ, so they
live here. Backends import this module (and :mod:`.base`), never each other.

The concurrency rule every saver enforces (two writers on one thread, atomic
turns, releases owed after a lost connection) is in :mod:`._turns`.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple, TypeVar, cast

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint._turns import (
    NOT_TRACKED,
    PAUSED_CHANNELS,
    Head,
    HeadTracker,
    OwedReleases,
    PutGuard,
    Turn,
    current_caller,
    turn_is_open,
)
from threadloom.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersion,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    TaskWrites,
    get_checkpoint_metadata,
    get_thread_address,
    metadata_matches,
    unique_next_version,
)
from threadloom.checkpoint.base._core import FORMAT_VERSION, TASKS, _dumps, _text_id
from threadloom.errors import (
    InvalidCheckpointInputError,
    MissingThreadIdError,
    SerializationError,
)

__all__ = [
    "NOT_TRACKED",
    "PAUSED_CHANNELS",
    "EncodedWrite",
    "Head",
    "HeadTracker",
    "ListScope",
    "OwedReleases",
    "PutGuard",
    "SaverOps",
    "Turn",
    "attach_sends",
    "can_match",
    "checkpoint_config",
    "encode_metadata",
    "encode_writes",
    "list_filter",
    "list_limit",
    "list_scope",
    "needs_sends",
    "stored_tuple",
    "take",
    "thread_key",
    "turn_is_open",
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


def needs_sends(checkpoint: Checkpoint, parent_id: str | None) -> bool:
    """Whether loading ``checkpoint`` attaches its parent's pending sends: it has a parent and a
    format before :data:`~threadloom.checkpoint.base._core.FORMAT_VERSION` (LangGraph's older
    checkpoints). The engine's own checkpoints never do, so their loads cost no extra lookup."""
    v = checkpoint.get("v")
    return bool(parent_id) and isinstance(v, int) and v < FORMAT_VERSION


def attach_sends(
    checkpoint: Checkpoint,
    sends: list[Any],
    get_next_version: Callable[[ChannelVersion | None, Any], ChannelVersion],
) -> None:
    """The pending sends migration: ``sends`` (the parent's writes to ``TASKS``, in write order)
    become ``checkpoint``'s ``TASKS`` value, at the highest version it holds (else a first one)."""
    if not sends:
        return
    versions = checkpoint["channel_versions"]
    if versions:
        try:
            top = max(versions.values())
        except TypeError:  # versions of mixed types: compare them as stored text
            top = max(versions.values(), key=str)
    else:
        top = get_next_version(None, None)
    checkpoint["channel_values"][TASKS] = sends
    versions[TASKS] = top


class ListScope(NamedTuple):
    """What ``list(config, before=...)`` narrows to; ``None`` means "any"."""

    thread_id: str | None
    ns: str | None
    checkpoint_id: str | None
    before_id: str | None


def list_scope(config: RunnableConfig | None, before: RunnableConfig | None) -> ListScope:
    """The thread, namespace, id and ``before`` id that ``list`` filters on (all optional there).

    Each must be usable as an id (see :func:`thread_key`), else
    :class:`~threadloom.errors.InvalidCheckpointInputError`.
    """
    configurable = (config or {}).get("configurable", {})
    thread_id = configurable.get("thread_id")
    ns = configurable.get("checkpoint_ns")
    checkpoint_id = configurable.get("checkpoint_id")
    before_id = (before or {}).get("configurable", {}).get("checkpoint_id")
    return ListScope(
        None if thread_id is None else thread_key(thread_id, error=InvalidCheckpointInputError),
        None if ns is None else _text_id(ns, "checkpoint_ns"),
        None if checkpoint_id is None else _text_id(checkpoint_id, "checkpoint_id"),
        None if before_id is None else _text_id(before_id, "the checkpoint_id of before"),
    )


def thread_key(thread_id: Any, *, error: type[Exception] = MissingThreadIdError) -> str:
    """A thread id as stored: a string (an int is turned into one) without NUL or lone surrogates.

    ``None`` or another type raises ``error`` (never the thread named ``"None"``).
    """
    if thread_id is None or isinstance(thread_id, bool) or not isinstance(thread_id, (str, int)):
        raise error(f"thread_id must be a string, got {type(thread_id).__name__}: {thread_id!r:.80}")
    return _text_id(str(thread_id), "thread_id")


_MAX_LIMIT = 2**63 - 1  # the largest LIMIT a database accepts; no thread holds more checkpoints


def list_limit(limit: Any) -> int | None:
    """``limit`` of ``list`` checked: ``None`` or an integer (above 2**63 - 1 it means "all")."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidCheckpointInputError(
            f"limit must be an integer or None, got {type(limit).__name__}: {limit!r:.80}"
        )
    return None if limit > _MAX_LIMIT else limit


def encode_metadata(serde: Any, metadata: Mapping[str, Any]) -> tuple[str, bytes]:
    """Serialize a checkpoint's metadata; failures are :class:`~threadloom.errors.SerializationError`.

    Metadata is matched by ``list(filter=...)`` in the database, so it holds no NUL
    character on any saver (PostgreSQL's JSON cannot store one).
    """
    if _holds_nul(metadata):
        raise SerializationError("Cannot serialize metadata: it holds a NUL character")
    return _dumps(serde, dict(metadata), "metadata")


def _holds_nul(value: Any) -> bool:
    """Whether a string in ``value`` (the strings :func:`_texts` walks) holds a NUL character.

    Runs on every put: a plain recursion with the scalar types first, no generators.
    """
    t = type(value)
    if t is str:
        return "\x00" in value
    if t is int or t is float or t is bool or value is None:
        return False
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _holds_nul(key) or _holds_nul(item):
                return True
    elif isinstance(value, (list, tuple)):
        for item in value:
            if _holds_nul(item):
                return True
    return False


def _texts(value: Any) -> Iterator[str]:
    """Every string in ``value``: itself, or the keys and items of its dicts, lists and tuples."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


def list_filter(filter: Any) -> Mapping[str, Any] | None:
    """``filter`` of ``list`` checked: ``None`` or a mapping, else :class:`InvalidCheckpointInputError`."""
    if filter is not None and not isinstance(filter, Mapping):
        raise InvalidCheckpointInputError(
            f"filter must be a dict of metadata keys and values, got {type(filter).__name__}: {filter!r:.80}"
        )
    return filter


def can_match(filter: Mapping[str, Any] | None) -> bool:
    """False when ``filter`` holds a string no stored metadata can hold (NUL, a lone surrogate)."""
    return all("\x00" not in text and _encodable(text) for text in _texts(filter or {}))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        (
            WRITES_IDX_MAP.get(channel, idx),
            _text_id(channel, "a channel name"),
            *_dumps(serde, value, f"the write to {channel!r}"),
        )
        for idx, (channel, value) in enumerate(writes)
    ]



def _task_ids(task_id: Any, task_path: Any) -> tuple[str, str]:
    return _text_id(task_id, "task_id"), _text_id(task_path, "task_path")


def _to_end(op: Callable[..., Any], *args: Any) -> Any:
    """Run ``op``; an iterator it returns is read to the end here (in the worker thread)."""
    result = op(*args)
    return list(result) if isinstance(result, Iterator) else result


@functools.cache
def _skips_an_override(cls: type, step: str, methods: tuple[str, ...]) -> bool:
    """Whether a subclass overrides one of ``methods`` below the class that defines ``step``:
    the one-call step would skip that override (a saver that logs or checks in ``put_writes``),
    so the step goes through ``put_writes`` and ``put`` as LangGraph's savers do."""
    mro = cls.__mro__
    step_owner = next(k for k in mro if step in vars(k))
    for name in methods:
        owner = next(k for k in mro if name in vars(k))
        if owner is not step_owner and owner is not SaverOps and issubclass(owner, step_owner):
            return True
    return False


class SaverOps(BaseCheckpointSaver):
    """Every public method, sync and async, written once over seven operations.

    A backend implements the operations (``_get_tuple_op``, ``_list_op``,
    ``_put_op``, ``_put_writes_op``, ``_delete_thread_op``,
    ``_peek_latest_op``, ``_release_turn_op``) and, if they are not plain
    functions, how one runs: :meth:`_call` from sync code, :meth:`_acall` from
    async code. By default an operation runs inline; with ``_offload_to_thread``
    the async methods run it in a worker thread (for a backend whose I/O blocks).

    The public methods check their arguments and keep the concurrency rule's
    bookkeeping (module docstring); ``_put_op`` gets a :class:`PutGuard` whose
    ``check`` it calls inside its write transaction, before writing, when
    ``needs_head`` says so, and stores ``writer`` and ``open_turn`` with the
    checkpoint.
    """

    _offload_to_thread = False

    def __init__(self, *, serde: Any = None, turn_timeout: float = 120.0) -> None:
        super().__init__(serde=serde)
        self.turn_timeout = turn_timeout
        self._heads = HeadTracker()
        self._writer = uuid.uuid4().hex
        self._owed = OwedReleases()

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
    _put_op: Callable[
        [RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions, PutGuard], Any
    ]
    _put_writes_op: Callable[[RunnableConfig, Sequence[tuple[str, Any]], str, str], Any]
    _put_step_op: Callable[
        [RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions, PutGuard, list[TaskWrites]],
        Any,
    ]
    _delete_thread_op: Callable[[str], Any]
    _peek_latest_op: Callable[[RunnableConfig], Any]
    _release_turn_op: Callable[[str, str, str, str], Any]

    # --- the concurrency rule's bookkeeping (the backend checks PutGuard when it writes) ---

    def _saw(self, config: RunnableConfig, head: str | None, *, latest: bool = False) -> None:
        """After a read: ``head`` is what the caller now takes as the thread's latest checkpoint,
        unless it read one checkpoint by id (``latest`` says the read ignores the id)."""
        thread_id, ns, checkpoint_id = get_thread_address(config)
        if latest or checkpoint_id is None:
            self._heads.seen(thread_id, ns, head)
        else:
            self._heads.forget(thread_id, ns)

    def _put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata) -> tuple[PutGuard, Callable[[], None]]:
        """The put's guard, and what to call once it is stored (the caller's head moves to it)."""
        thread_id, ns, _ = get_thread_address(config)
        checkpoint_id = _text_id(checkpoint["id"], "the checkpoint's id")
        caller = current_caller()
        guard = PutGuard(
            expect_latest=self._heads.expected(thread_id, ns, caller),
            writer=f"{self._writer}:{caller}",
            open_turn=turn_is_open(checkpoint, metadata),
            starts_turn=metadata.get("source") == "input",
            turn_timeout=self.turn_timeout,
        )
        return guard, partial(self._heads.seen, thread_id, ns, checkpoint_id, caller)

    # --- releases owed since a release failed (module docstring) ---

    def _owe_if_unsure(self, error: BaseException, config: RunnableConfig, checkpoint: Checkpoint, guard: PutGuard) -> None:
        """A put of an open checkpoint whose outcome is unknown: release it, if it was stored."""
        if guard.open_turn and getattr(error, "committed", False) is None:
            thread_id, ns, _ = get_thread_address(config)
            self._owed.owe((thread_id, ns, str(checkpoint["id"]), guard.writer))

    def _settle(self) -> None:
        """Perform the releases owed, before this call's own work; one that fails stays owed."""
        if not self._owed:
            return
        for turn in self._owed.due(self.turn_timeout):
            try:
                self._call(self._release_turn_op, *turn)
            except Exception:
                return  # still out of reach: the call goes on and reports its own outcome
            self._owed.paid(turn)

    async def _asettle(self) -> None:
        """Async twin of :meth:`_settle`."""
        if not self._owed:
            return
        for turn in self._owed.due(self.turn_timeout):
            try:
                await self._acall(self._release_turn_op, *turn)
            except Exception:
                return
            self._owed.paid(turn)

    # --- sync API ---

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint addressed by ``config`` (the thread's latest without ``checkpoint_id``)."""
        self._settle()
        result: CheckpointTuple | None = self._call(self._get_tuple_op, config)
        self._saw(config, None if result is None else result.checkpoint["id"])
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
        limit = list_limit(limit)
        self._settle()
        if can_match(list_filter(filter)):
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
        metadata = cast(CheckpointMetadata, get_checkpoint_metadata(config, metadata))
        guard, stored = self._put(config, checkpoint, metadata)
        self._settle()
        try:
            result: RunnableConfig = self._call(
                self._put_op, config, checkpoint, metadata, new_versions, guard
            )
        except BaseException as error:
            self._owe_if_unsure(error, config, checkpoint, guard)
            raise
        stored()
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store the writes of task ``task_id`` against the checkpoint in ``config``."""
        self._settle()
        self._call(self._put_writes_op, config, writes, *_task_ids(task_id, task_path))

    def put_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        """The tasks' writes against ``config``'s checkpoint and ``checkpoint`` as its child,
        stored together (one transaction where the backend has them)."""
        if _skips_an_override(type(self), "put_step", ("put", "put_writes")):
            return BaseCheckpointSaver.put_step(self, config, checkpoint, metadata, new_versions, task_writes)
        metadata = cast(CheckpointMetadata, get_checkpoint_metadata(config, metadata))
        guard, stored = self._put(config, checkpoint, metadata)
        writes = [(*_task_ids(tid, path), w) for tid, path, w in task_writes]
        self._settle()
        try:
            result: RunnableConfig = self._call(
                self._put_step_op, config, checkpoint, metadata, new_versions, guard, writes
            )
        except BaseException as error:
            self._owe_if_unsure(error, config, checkpoint, guard)
            raise
        stored()
        return result

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of ``thread_id`` in every namespace."""
        self._settle()
        self._call(self._delete_thread_op, thread_key(thread_id))

    def peek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """``(checkpoint_id, has_pending_writes)`` of the latest checkpoint; decodes no values."""
        self._settle()
        result: tuple[str, bool] | None = self._call(self._peek_latest_op, config)
        self._saw(config, None if result is None else result[0], latest=True)
        return result

    def release_turn(self, config: RunnableConfig) -> None:
        """The caller's run stopped mid-turn at ``config``'s checkpoint: other writers may start turns.

        If the database cannot be reached, the error is raised and the release is kept:
        the saver's next call performs it first (module docstring).
        """
        turn = self._own_checkpoint(config)
        self._settle()
        try:
            self._call(self._release_turn_op, *turn)
        except BaseException:
            self._owed.owe(turn)
            raise

    def _own_checkpoint(self, config: RunnableConfig) -> tuple[str, str, str, str]:
        """``(thread_id, ns, checkpoint_id, writer)``: only the caller's own turn is released."""
        thread_id, ns, checkpoint_id = writes_address(config)
        return thread_id, ns, checkpoint_id, f"{self._writer}:{current_caller()}"

    def get_next_version(
        self, current: ChannelVersion | None, channel: Any = None
    ) -> ChannelVersion:
        """A unique version above ``current`` (see :mod:`threadloom.checkpoint.base`)."""
        return unique_next_version(current)

    # --- async API: the same operations ---

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async twin of :meth:`get_tuple`."""
        await self._asettle()
        result: CheckpointTuple | None = await self._acall(self._get_tuple_op, config)
        self._saw(config, None if result is None else result.checkpoint["id"])
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
        limit = list_limit(limit)
        await self._asettle()
        if can_match(list_filter(filter)):
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
        metadata = cast(CheckpointMetadata, get_checkpoint_metadata(config, metadata))
        guard, stored = self._put(config, checkpoint, metadata)
        await self._asettle()
        try:
            result: RunnableConfig = await self._acall(
                self._put_op, config, checkpoint, metadata, new_versions, guard
            )
        except BaseException as error:
            self._owe_if_unsure(error, config, checkpoint, guard)
            raise
        stored()
        return result

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async twin of :meth:`put_writes`."""
        await self._asettle()
        await self._acall(self._put_writes_op, config, writes, *_task_ids(task_id, task_path))

    async def aput_step(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        task_writes: Sequence[TaskWrites],
    ) -> RunnableConfig:
        """Async twin of :meth:`put_step`."""
        if _skips_an_override(type(self), "aput_step", ("aput", "aput_writes")):
            return await BaseCheckpointSaver.aput_step(
                self, config, checkpoint, metadata, new_versions, task_writes
            )
        metadata = cast(CheckpointMetadata, get_checkpoint_metadata(config, metadata))
        guard, stored = self._put(config, checkpoint, metadata)
        writes = [(*_task_ids(tid, path), w) for tid, path, w in task_writes]
        await self._asettle()
        try:
            result: RunnableConfig = await self._acall(
                self._put_step_op, config, checkpoint, metadata, new_versions, guard, writes
            )
        except BaseException as error:
            self._owe_if_unsure(error, config, checkpoint, guard)
            raise
        stored()
        return result

    async def adelete_thread(self, thread_id: str) -> None:
        """Async twin of :meth:`delete_thread`."""
        await self._asettle()
        await self._acall(self._delete_thread_op, thread_key(thread_id))

    async def arelease_turn(self, config: RunnableConfig) -> None:
        """Async twin of :meth:`release_turn`."""
        turn = self._own_checkpoint(config)
        await self._asettle()
        try:
            await self._acall(self._release_turn_op, *turn)
        except BaseException:
            self._owed.owe(turn)
            raise

    async def apeek_latest(self, config: RunnableConfig) -> tuple[str, bool] | None:
        """Async twin of :meth:`peek_latest`."""
        await self._asettle()
        result: tuple[str, bool] | None = await self._acall(self._peek_latest_op, config)
        self._saw(config, None if result is None else result[0], latest=True)
        return result
