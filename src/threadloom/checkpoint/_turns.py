"""The concurrency rule every shipped checkpoint saver follows, written once.

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
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from threadloom.checkpoint.base import ERROR, INTERRUPT, Checkpoint
from threadloom.errors import CheckpointConflictError

__all__ = [
    "NOT_TRACKED",
    "PAUSED_CHANNELS",
    "Head",
    "HeadTracker",
    "OwedReleases",
    "PutGuard",
    "Turn",
    "turn_is_open",
]


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


def current_caller() -> str:
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
        key = (caller or current_caller(), thread_id, ns)
        with self._lock:
            self._seen[key] = head
            self._seen.move_to_end(key)
            while len(self._seen) > _MAX_TRACKED:
                self._seen.popitem(last=False)

    def forget(self, thread_id: str, ns: str) -> None:
        """The caller read a checkpoint by id: what it puts next is a deliberate branch."""
        with self._lock:
            self._seen.pop((current_caller(), thread_id, ns), None)

    def expected(self, thread_id: str, ns: str, caller: str | None = None) -> Any:
        """The head the caller last saw, or :data:`NOT_TRACKED`."""
        with self._lock:
            return self._seen.get((caller or current_caller(), thread_id, ns), NOT_TRACKED)


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
