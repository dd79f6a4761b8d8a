"""Give LangGraph's pending writes the task ids and interrupt ids threadloom's engine computes.

A pending write belongs to a task by id, and the engine finds a paused task's
writes (its interrupt, the writes of tasks that finished before a step
stopped) by the id it computes for that task from the checkpoint. LangGraph
hashes differently, so each write of a node task (``pull``: a graph node; ``push``:
a ``Send``) moves to the id threadloom gives the same task, and each
interrupt to the id threadloom gives the same ``interrupt()`` call, so that
resuming by interrupt id works. Writes of other tasks (``update_state``,
``Command(resume=...)``, the functional API) keep their ids.
"""

from __future__ import annotations

import hashlib
from typing import Any

from threadloom._engine._checkpoint import task_id as engine_task_id
from threadloom._engine._constants import PULL, PUSH
from threadloom.migrate._sources import CheckpointRow
from threadloom.types import Interrupt, Send

__all__ = ["Writes", "threadloom_writes"]

Writes = dict[tuple[str, str], list[tuple[str, Any]]]
"""Per ``(task_id, task_path)``, the task's ``(channel, value)`` writes in order."""

_PULL, _PUSH, _INTERRUPT = "~__pregel_pull, ", "~__pregel_push, ", "__interrupt__"


def threadloom_writes(row: CheckpointRow) -> Writes:
    """``row``'s pending writes grouped by task, under threadloom's task and interrupt ids."""
    step = int(row.metadata.get("step", -1)) + 1  # tasks planned from a checkpoint run one step on
    sends = row.checkpoint.get("channel_values", {}).get("__pregel_tasks") or []
    out: Writes = {}
    for old_id, old_path, _idx, channel, value in row.writes:
        task = _task(row, step, old_path, sends)
        key = (old_id, old_path) if task is None else task
        if channel == _INTERRUPT and task is not None and isinstance(value, list):
            value = [_renamed(i, task[0], n) for n, i in enumerate(value)]
        out.setdefault(key, []).append((channel, value))
    return out


def _task(row: CheckpointRow, step: int, path: str, sends: list[Any]) -> tuple[str, str] | None:
    new_path: tuple[str, str | int]
    if path.startswith(_PULL):
        name, new_path = path[len(_PULL) :], (PULL, path[len(_PULL) :])
    elif path.startswith(_PUSH):
        parts = path[len(_PUSH) :].split(", ")
        if len(parts) != 1 or not parts[0].isdigit():
            return None  # a functional-API call: its id is its own
        index = int(parts[0])
        if index >= len(sends) or not isinstance(sends[index], Send):
            return None
        name, new_path = sends[index].node, (PUSH, index)
    else:
        return None
    new_id = engine_task_id(row.checkpoint_id, row.checkpoint_ns, step, name, new_path)
    return new_id, "|".join(map(str, new_path))


def _renamed(interrupt: Any, task_id: str, index: int) -> Any:
    if not isinstance(interrupt, Interrupt):
        return interrupt
    # The id the engine gives the task's index-th interrupt() call (threadloom._engine._context).
    digest = hashlib.md5(f"{task_id}:{index}".encode(), usedforsecurity=False).hexdigest()
    return Interrupt(value=interrupt.value, id=digest)
