"""Checkpoint plumbing: sortable ids, deterministic task ids, applying a step's writes in
LangGraph's order, and the per-thread channel cache."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import PUSH, TASKS
from threadloom.channels.base import BaseChannel
from threadloom.channels.last_value import LastValue
from threadloom.checkpoint.id import uuid6
from threadloom.errors import InvalidUpdateError

if TYPE_CHECKING:
    from threadloom._engine._context import Task

__all__ = [
    "ChannelCache",
    "ThreadState",
    "new_checkpoint_id",
    "now_iso",
    "path_text",
    "seen_after",
    "task_id",
    "triggered_anew",
    "write_channels",
    "write_order",
]


def new_checkpoint_id() -> str:
    """A time-ordered UUID (version 6 layout): ids sort in creation order, even within one tick."""
    return str(uuid6())


_ID_KIND = {"__pregel_pull": "pull", "__pregel_push": "push"}
"""Path kinds as the ids hash them: ids stay those that threads saved earlier hold."""


def task_id(checkpoint_id: str, ns: str, step: int, name: str, path: Any) -> str:
    """The id of a task, the same every time the same checkpoint is resumed."""
    kind = _ID_KIND.get(path[0]) if path else None
    if kind is not None:
        path = (kind, *path[1:])
    digest = hashlib.md5(
        f"{checkpoint_id}|{ns}|{step}|{name}|{path}".encode(), usedforsecurity=False
    ).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def path_text(path: Any) -> str:
    """A task path as sortable text: parts joined after ``~``, numbers zero-padded to ten digits."""
    if isinstance(path, (tuple, list)):
        return "~" + ", ".join(path_text(part) for part in path)
    if isinstance(path, int):
        return f"{path:010d}"
    return str(path)


def write_order(task: Task) -> str:
    """Where a task's writes apply in its step, as in LangGraph: by the text of its path, so
    the nodes that pulled apply by name, then the pushed (``Send``) tasks in the order sent."""
    return path_text(task.path)


def write_channels(
    channels: dict[str, BaseChannel], tasks: list[Task]
) -> tuple[dict[str, list[Any]], set[str]]:
    """Update ``channels`` with the writes of ``tasks`` (one step's), in LangGraph's order;
    return the writes by channel and the channels that changed."""
    pending: dict[str, list[Any]] = {}
    for task in sorted(tasks, key=write_order) if len(tasks) > 1 else tasks:
        for key, value in task.writes:
            if key:
                pending.setdefault(key, []).append(value)
    changed: set[str] = set()
    for key, values in pending.items():
        channel = channels.get(key)
        if channel is None:
            continue  # a reserved write key (interrupt, resume, error)
        try:
            if channel.update(values):
                changed.add(key)
        except InvalidUpdateError as exc:
            if isinstance(channel, LastValue) and len(values) > 1:
                writers = [t.name for t in tasks if any(k == key for k, _ in t.writes)]
                raise InvalidUpdateError(
                    f"At key '{key}': Can receive only one value per step. Use an Annotated key "
                    f"to handle multiple values. (Nodes {', '.join(repr(w) for w in writers)} "
                    "all wrote it: give it a reducer, Annotated[type, reducer].)"
                ) from exc
            raise
    return pending, changed


def seen_after(
    seen: dict[str, dict[str, Any]],
    tasks: list[Task],
    versions: dict[str, Any],
    version: Any,
    sticky: frozenset[str],
) -> dict[str, dict[str, Any]]:
    """``versions_seen`` after a step: each task's triggers as they stood when it ran.

    Entries of earlier steps are kept only for nodes in ``sticky`` (triggered by a
    channel that keeps its value once read): their triggers stay available, so only
    a version newer than the one seen schedules them again (LangGraph's rule). The
    other nodes' triggers are used up when they run, and their entries are dropped.
    """
    out = {name: entry for name, entry in seen.items() if name in sticky} if sticky else {}
    for task in tasks:
        if task.triggers:
            entry = {t: versions.get(t) for t in task.triggers}
        elif task.path and task.path[0] == PUSH:
            entry = {TASKS: version}
        else:
            continue
        out[task.name] = {**out[task.name], **entry} if task.name in out else entry
    return out


def triggered_anew(
    seen: dict[str, Any] | None, versions: dict[str, Any], triggers: list[str]
) -> bool:
    """Whether one of ``triggers`` has a version newer than the node last saw."""
    if not seen:
        return True
    for trigger in triggers:
        old = seen.get(trigger)
        new = versions.get(trigger)
        try:
            if old is None or (new is not None and new > old):
                return True
        except TypeError:  # versions of two saver kinds: count the channel as new
            return True
    return False


def now_iso() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


@dataclass
class ThreadState:
    """Live channels of a thread right after the engine saved ``checkpoint_id``."""

    checkpoint_id: str
    config: Any
    parent_config: Any
    metadata: dict[str, Any]
    created_at: str
    channels: dict[str, BaseChannel]
    versions: dict[str, Any]
    seen: dict[str, dict[str, Any]]
    step: int
    max_version: Any

    def __post_init__(self) -> None:
        # Kept channels must equal the checkpointed ones: untracked values stay behind.
        if any(c.untracked for c in self.channels.values()):
            self.channels = {k: c.new() if c.untracked else c for k, c in self.channels.items()}


class ChannelCache:
    """A small LRU of :class:`ThreadState` per ``(thread_id, checkpoint_ns)``.

    A run takes its thread's entry out (so two concurrent runs never share
    channels) and puts the new state back when it ends. The engine trusts an
    entry only after the saver confirms the latest checkpoint is still the
    one the entry was saved as, with no pending writes.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], ThreadState] = OrderedDict()

    def take(self, key: tuple[str, str]) -> ThreadState | None:
        """Remove and return the entry for ``key``."""
        with self._lock:
            return self._entries.pop(key, None)

    def peek(self, key: tuple[str, str]) -> ThreadState | None:
        """The entry for ``key``, left in place (callers must not mutate it)."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key: tuple[str, str], state: ThreadState) -> None:
        """Store the state a run ended with."""
        with self._lock:
            self._entries[key] = state
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
