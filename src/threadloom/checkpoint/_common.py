"""Rules every shipped checkpoint saver follows, written once.

Backends differ in where bytes go; how a config addresses a checkpoint, how
pending writes are numbered and how a stored checkpoint becomes a
:class:`~threadloom.checkpoint.base.CheckpointTuple` must not differ, so they
live here. Backends import this module (and :mod:`.base`), never each other.

Concurrency rule (two writers on one thread), the same on every saver. A
saver remembers, per caller (thread, or asyncio task) and per thread and
namespace, the checkpoint that caller last saw as the thread's head: read as
the latest by ``get_tuple``/``peek_latest``, or written by its own ``put``.
A ``put`` whose parent is that head must still extend the thread's latest
checkpoint; if another writer put a checkpoint in between, the put raises
:class:`~threadloom.errors.CheckpointConflictError`, writes nothing, and the
caller re-reads the thread and retries the turn. The check runs inside the
backend's write transaction (a lock, ``BEGIN IMMEDIATE``, an advisory lock),
so the check and the write are atomic. A put on a checkpoint chosen
explicitly (read by its ``checkpoint_id``: time travel, a fork) is not
checked: branches are allowed.

Turns are atomic with respect to other writers: a new turn (an ``input``
checkpoint) may not start on a checkpoint that another writer put in the
middle of its own turn (an "open" checkpoint: more nodes of that turn are
still to run) within the last ``turn_timeout`` seconds, unless that turn
stopped: the engine calls ``release_turn`` when a run stops mid-turn (an
interrupt, an error, a cancelled stream), and an interrupt or error write on
the checkpoint counts as stopped too. Such a put raises
:class:`~threadloom.errors.CheckpointConflictError` before writing anything,
so the caller simply retries the whole turn a moment later. A writer that
died mid-turn blocks others for at most ``turn_timeout``.

A release that fails (the database was unreachable when the run stopped: a
server restart, a dropped connection, a locked or full file) is not dropped:
the saver keeps it and performs it first thing in its next call, whatever that
call is, before the call's own work. So does a put of a turn's open checkpoint
whose outcome is unknown (the connection was lost during COMMIT): the run that
put it stopped, so the checkpoint, if it was stored, is released. A turn cut off
by a lost connection in a live process therefore holds its thread only until
that saver reaches the database again, not for ``turn_timeout``. Releasing is
idempotent (only the writer's own open checkpoint is touched), so doing it
late or twice changes nothing else.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, TypeVar

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import (
    ERROR,
    INTERRUPT,
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersion,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    TaskWrites,
    _dumps,
    _text_id,
    get_thread_address,
    metadata_matches,
    unique_next_version,
)
from threadloom.errors import (
    CheckpointConflictError,
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
    "can_match",
    "checkpoint_config",
    "encode_metadata",
    "encode_writes",
    "list_filter",
    "list_limit",
    "list_scope",
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


# --- the concurrency rule (see the module docstring) ---


class _NotTracked:
    def __repr__(self) -> str:
        return "NOT_TRACKED"


NOT_TRACKED: Any = _NotTracked()
"""``PutGuard.expect_latest`` when the writer never saw the thread's head: the put is a fork."""

PAUSED_CHANNELS = (INTERRUPT, ERROR)
"""Pending writes that stop a turn (it waits for a resume, or failed): it no longer holds the thread."""

_MAX_TRACKED = 10_000


def turn_is_open(checkpoint: Checkpoint, metadata: Mapping[str, Any]) -> bool:
    """Whether nodes still run after this checkpoint within the same turn.

    An input checkpoint always precedes the nodes it triggers; a later one is
    open when its step left a value in a ``branch:to:<node>`` channel (a node
    consumes its trigger when it runs, so a finished turn holds none).
    """
    if metadata.get("source") == "input":
        return True
    if metadata.get("source") in ("update", "fork"):
        return False  # written outside a run: no node of it is running
    return any(str(c).startswith("branch:to:") for c in checkpoint["channel_values"])


def _caller() -> str:
    """Who is calling: the OS thread, and the asyncio task when one runs."""
    loop = asyncio._get_running_loop()  # None outside a loop, without raising (cheap on every put)
    task = None if loop is None else asyncio.current_task(loop)
    return f"{threading.get_ident()}:{0 if task is None else id(task)}"


class HeadTracker:
    """The head each caller last saw, per thread and namespace (bounded, least recent dropped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str], str | None] = OrderedDict()

    def seen(self, thread_id: str, ns: str, head: str | None, caller: str | None = None) -> None:
        """The calling thread/task saw ``head`` (``None``: an empty thread) as the latest."""
        key = (caller or _caller(), thread_id, ns)
        with self._lock:
            self._seen[key] = head
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_TRACKED:
                self._seen.popitem(last=False)

    def forget(self, thread_id: str, ns: str) -> None:
        """The caller read a checkpoint by id: what it puts next is a deliberate branch."""
        with self._lock:
            self._seen.pop((_caller(), thread_id, ns), None)

    def expected(self, thread_id: str, ns: str, caller: str | None = None) -> Any:
        """The head the caller last saw, or :data:`NOT_TRACKED`."""
        with self._lock:
            return self._seen.get((caller or _caller(), thread_id, ns), NOT_TRACKED)


Turn = tuple[str, str, str, str]
"""``(thread_id, checkpoint_ns, checkpoint_id, writer)``: one writer's turn at one checkpoint."""


class OwedReleases:
    """Turns whose release failed, to be released before the saver's next call (module docstring).

    Bounded (the oldest dropped); an entry older than ``turn_timeout`` no longer holds its
    thread and is dropped rather than released.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: OrderedDict[Turn, float] = OrderedDict()

    def __bool__(self) -> bool:
        return bool(self._since)  # read without the lock: a hint, checked again under it

    def owe(self, turn: Turn) -> None:
        with self._lock:
            self._since[turn] = time.monotonic()
            self._since.move_to_end(turn)
            while len(self._since) > _MAX_TRACKED:
                self._since.popitem(last=False)

    def due(self, turn_timeout: float) -> list[Turn]:
        """The turns still to release, oldest first."""
        now = time.monotonic()
        with self._lock:
            for turn, since in list(self._since.items()):
                if now - since >= turn_timeout:
                    del self._since[turn]
            return list(self._since)

    def paid(self, turn: Turn) -> None:
        with self._lock:
            self._since.pop(turn, None)


class Head(NamedTuple):
    """The thread's latest checkpoint as a backend reads it inside its write transaction."""

    checkpoint_id: str
    writer: str
    open_turn: bool
    age: float
    """Seconds since it was written."""
    paused: bool
    """It holds an interrupt or error write (see :data:`PAUSED_CHANNELS`)."""


@dataclass(frozen=True)
class PutGuard:
    """What one ``put`` must check in its write transaction, and what it records about itself."""

    expect_latest: Any
    """The head the writer last saw (``None``: empty thread), or :data:`NOT_TRACKED`."""
    writer: str
    """Who writes (saver and caller): another writer's open turn blocks a new turn."""
    open_turn: bool
    """Whether this checkpoint leaves its turn open (store it with the checkpoint)."""
    starts_turn: bool
    turn_timeout: float

    def needs_head(self, parent_id: str | None) -> bool:
        """Whether the backend must read the thread's head before writing."""
        return self.starts_turn or self._tracked(parent_id)

    def _tracked(self, parent_id: str | None) -> bool:
        return self.expect_latest is not NOT_TRACKED and self.expect_latest == parent_id

    def check(
        self,
        thread_id: str,
        parent_id: str | None,
        checkpoint_id: str,
        head: Head | None,
        ns: str = "",
    ) -> None:
        """Raise :class:`CheckpointConflictError` if the put breaks the rule; call before writing."""
        if (
            self.starts_turn
            and head is not None
            and head.writer != self.writer
            and head.open_turn
            and not head.paused
            and head.age < self.turn_timeout
        ):
            raise CheckpointConflictError(
                f"Thread {thread_id!r} is in the middle of a turn of another writer (checkpoint "
                f"{head.checkpoint_id!r}). Nothing was written; retry the turn shortly.",
                thread_id=thread_id,
                checkpoint_ns=ns,
                latest=head.checkpoint_id,
                expected=parent_id,
            )
        latest = None if head is None else head.checkpoint_id
        if self._tracked(parent_id) and latest not in (parent_id, checkpoint_id):
            raise CheckpointConflictError(
                f"Thread {thread_id!r} moved on: its latest checkpoint is {latest!r}, but this "
                f"step was computed from {parent_id!r} (another writer put a checkpoint in "
                "between). Nothing was written; read the thread again and retry the turn.",
                thread_id=thread_id,
                checkpoint_ns=ns,
                latest=latest,
                expected=parent_id,
            )


def _task_ids(task_id: Any, task_path: Any) -> tuple[str, str]:
    return _text_id(task_id, "task_id"), _text_id(task_path, "task_path")


def _to_end(op: Callable[..., Any], *args: Any) -> Any:
    """Run ``op``; an iterator it returns is read to the end here (in the worker thread)."""
    result = op(*args)
    return list(result) if isinstance(result, Iterator) else result


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
        caller = _caller()
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
        return thread_id, ns, checkpoint_id, f"{self._writer}:{_caller()}"

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
