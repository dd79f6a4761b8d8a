"""``update_state``: what an update writes, and the checkpoint (and pending writes) it saves.

Follows LangGraph's rules: an update is applied as if node ``as_node`` had
returned it; without ``as_node`` the node that wrote last is chosen; three
special names do more: ``"__copy__"`` forks the checkpoint unchanged (as a
sibling, ``source="fork"``), ``"__input__"`` writes the values as the graph's
input (``source="input"``) and ``"__end__"`` with ``None`` ends the pending
tasks. The updating task's writes are also stored as pending writes of the
checkpoint it updates, so history shows them as that task's ``result``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import (
    COPY,
    END,
    ERROR,
    INPUT,
    INTERRUPT,
    NULL_TASK_ID,
    PUSH,
    RESUME,
    START,
    TASKS,
)
from threadloom._engine._context import Task
from threadloom._engine._superstep import Script, branch_script
from threadloom.errors import InvalidUpdateError
from threadloom.types import Command, StateUpdate

if TYPE_CHECKING:
    from threadloom._engine._run import Op, Run

__all__ = ["as_update", "update_ops"]

_SPECIAL = (END, COPY, INPUT)


def update_ops(run: Run, updates: list[tuple[Any, str | None]]) -> Script[list[Op]]:
    """Apply one superstep of updates to ``run``; the saver calls that record it. A script:
    the conditional edges after an updating node are called through the driver."""
    values, as_node = updates[0]
    if len(updates) > 1:
        for _, name in updates:
            if name is None or name in _SPECIAL:
                raise InvalidUpdateError(
                    f"updates applied together in one superstep each need an as_node other "
                    f"than {END!r}, {COPY!r} or {INPUT!r}; got {name!r}"
                )
    if as_node == COPY:
        return (yield from _copy(run, values))
    if as_node == INPUT:
        return _as_input(run, values)
    if as_node == END and values is None:
        return _end_tasks(run)
    return (yield from _update_step(run, updates))


def _update_step(run: Run, updates: list[tuple[Any, str | None]]) -> Script[list[Op]]:
    """Apply updates as one superstep, each as if its node had returned it."""
    prepared: dict[str, list[Task]] = {}
    if run.checkpoint_id is not None:
        for task in run.next_tasks(dry=True):
            prepared.setdefault(task.name, []).append(task)
    tasks = []
    for values, as_node in updates:
        tasks.append((yield from _update_task(run, values, as_node, prepared)))
    ops: list[Op] = []
    if run.checkpoint_id is not None and run.saver is not None:
        # The checkpoint updated keeps the writes as its task's result, as LangGraph's does.
        conf = {"thread_id": run.thread_id, "checkpoint_ns": run.ns}
        config = {"configurable": {**conf, "checkpoint_id": run.checkpoint_id}}
        for task in tasks:
            if task.writes and task.id != NULL_TASK_ID:
                ops.append(("put_writes", (config, list(task.writes), task.id, "update")))
    sends = run.channels.get(TASKS)
    if sends is not None and sends.is_available() and not any(t.path[:1] == (PUSH,) for t in tasks):
        # An update is a step, and a step drops the Sends it does not run, as LangGraph's does.
        tasks[0].triggers = (*tasks[0].triggers, TASKS)
    run.pending_writes = []
    run.apply_writes(tasks)
    run.step += 1
    return [*ops, *run.checkpoint_ops("update")]


def _update_task(
    run: Run, values: Any, as_node: str | None, prepared: dict[str, list[Task]]
) -> Script[Task]:
    spec = run.spec
    if spec.update_coerce is not None:  # a workflow: the update is its one node's return value
        values = spec.update_coerce(values)
        as_node = as_node or next(iter(spec.nodes))
    if as_node is None:
        as_node = _last_writer(run)
    if as_node == START:
        node = spec.start
    elif as_node in spec.nodes:
        node = spec.nodes[as_node]
    else:
        raise InvalidUpdateError(
            f"update_state(as_node={as_node!r}): no such node; known nodes: {sorted(spec.nodes)}"
        )
    if node.update_output is not None:
        values = node.update_output(values)
    waiting = prepared.get(node.name)
    if waiting:
        # The update stands for a task of the step: it is that task (a pushed one too, so
        # the Send that scheduled it is consumed), with its id and path.
        found = waiting.pop(0)
        task = Task(run, node, found.id, found.path, found.triggers, None)
    else:
        triggers = tuple(t for t in node.triggers if run.channels[t].is_available())
        task = Task(run, node, NULL_TASK_ID, ("update", node.name), triggers, None)
    if node.name in spec.sticky_nodes:
        # An update does not read the channels that trigger a low-level node: a version it
        # has not seen still schedules it (LangGraph's update task has no triggers).
        task.triggers = ()
    branches = run.process_output(task, values)
    if branches:
        task.writes.extend((yield from branch_script(run, task, branches)))
    return task


def _last_writer(run: Run) -> str:
    """The node an update is attributed to without ``as_node``: the one that saw the newest
    channel versions (START on a thread that only has its input); a tie is ambiguous."""
    spec = run.spec
    if len(spec.nodes) == 1:
        return next(iter(spec.nodes))
    latest = sorted(
        (max(seen), name)
        for name, versions in run.seen.items()
        if name in spec.nodes or name == START
        if (seen := [v for v in versions.values() if v is not None])
    )
    if not latest:
        return START
    if len(latest) > 1 and latest[-1][0] == latest[-2][0]:
        tied = sorted(name for version, name in latest if version == latest[-1][0])
        raise InvalidUpdateError(
            f"update_state cannot tell which node the update is from ({', '.join(tied)} ran "
            "last); pass as_node="
        )
    return latest[-1][1]


def _copy(run: Run, values: Any) -> Script[list[Op]]:
    """``as_node="__copy__"``: the checkpoint again, as a sibling (same parent), ``source="fork"``."""
    if run.checkpoint_id is None:
        raise InvalidUpdateError("update_state(as_node='__copy__'): there is no checkpoint to copy")
    parent = run.parent_config or {}
    run.checkpoint_id = (parent.get("configurable") or {}).get("checkpoint_id")
    run.pending_writes = []
    run.step += 1
    run.updated = set()  # every channel keeps its stored version
    ops = run.checkpoint_ops("fork")
    run.updated = None
    if isinstance(values, list) and values:
        # A copy and an update in one go: the updates apply on top of the copy.
        items: list[tuple[Any, str | None]] = []
        for item in values:
            if not isinstance(item, (list, tuple)) or len(item) < 2:
                raise InvalidUpdateError(
                    f"update_state(as_node='__copy__') takes a list of (values, as_node) "
                    f"pairs to apply to the copy, got {item!r}"
                )
            items.append((item[0], item[1]))
        ops.extend((yield from update_ops(run, items)))
    return ops


def _as_input(run: Run, values: Any) -> list[Op]:
    """``as_node="__input__"``: the values as the graph's input (the next run starts from them)."""
    if values is None or isinstance(values, Command):
        raise InvalidUpdateError(
            "update_state(as_node='__input__') needs the graph's input (a dict of its input keys)"
        )
    return run.apply_input(values)


def _end_tasks(run: Run) -> list[Op]:
    """``as_node="__end__"`` with ``None``: the pending tasks end without running (nothing is next)."""
    tasks = run.next_tasks(dry=True)
    done: dict[str, list[tuple[str, Any]]] = {}
    for tid, channel, value in run.pending_writes:
        if channel not in (ERROR, INTERRUPT, RESUME) and tid != NULL_TASK_ID:
            done.setdefault(tid, []).append((channel, value))
    for task in tasks:
        task.writes = done.get(task.id, [])
    run.pending_writes = []
    run.apply_writes(tasks)
    run.step += 1
    return run.checkpoint_ops("update")


def as_update(update: Any) -> StateUpdate:
    """A ``bulk_update_state`` item as a :class:`StateUpdate` (tuples are accepted too)."""
    if isinstance(update, StateUpdate):
        return update
    if isinstance(update, tuple):
        return StateUpdate(*update)
    raise InvalidUpdateError(f"bulk_update_state takes StateUpdate tuples, got {update!r}")
