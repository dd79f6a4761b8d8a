"""Run events for the ``debug``, ``tasks`` and ``checkpoints`` stream modes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from threadloom._engine._checkpoint import now_iso
from threadloom._engine._constants import ERROR, INTERRUPT, NO_WRITES, PUSH, RESUME, RETURN
from threadloom._engine._subgraphs import task_namespace, with_checkpoint_map

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._run import Run

__all__ = [
    "EVENT_MODES",
    "TaskView",
    "call_event",
    "call_result_event",
    "checkpoint_event",
    "emit_event",
    "subgraph_config",
    "task_event",
    "task_result_event",
    "task_views",
]

_CONTROL_WRITES = frozenset({INTERRUPT, ERROR, RESUME})
"""Pending writes that tell what happened to a task, not what it wrote."""

EVENT_MODES = frozenset({"debug", "tasks", "checkpoints"})
"""The modes that receive run events; the engine builds events only when one is asked for."""


def emit_event(run: Run, event: dict[str, Any]) -> None:
    """Send a run event on ``debug`` (whole) and on ``tasks``/``checkpoints`` (its payload)."""
    run.emit("debug", event)
    run.emit("checkpoints" if event["type"] == "checkpoint" else "tasks", event["payload"])


def task_event(task: Task) -> dict[str, Any]:
    """A task is about to run."""
    shown = task.run.spec.traced_input
    return {
        "step": task.run.step + 1,
        "timestamp": now_iso(),
        "type": "task",
        "payload": {
            "id": task.id,
            "name": task.name,
            "input": task.input if shown is None else shown(task.input),
            "triggers": task.triggers,
        },
    }


def call_event(call: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """A ``@task`` call is about to run: its arguments as ``(args, kwargs)``, pushed."""
    return {
        "step": call.run.step + 1,
        "timestamp": now_iso(),
        "type": "task",
        "payload": {"id": call.id, "name": call.name, "input": (args, kwargs), "triggers": (PUSH,)},
    }


def call_result_event(call: Task, error: BaseException | None, value: Any = None) -> dict[str, Any]:
    """A ``@task`` call finished: its return value (``{"__return__": value}``), its error, or
    the interrupts it raised."""
    done = error is None and not call.paused
    return {
        "step": call.run.step + 1,
        "timestamp": now_iso(),
        "type": "task_result",
        "payload": {
            "id": call.id,
            "name": call.name,
            "error": repr(error) if error is not None and not call.paused else None,
            "result": {RETURN: value} if done else {},
            "interrupts": [asdict(i) for i in call.interrupts],
        },
    }


def task_result_event(task: Task, step: int) -> dict[str, Any]:
    """A task that ran in ``step`` finished: its error, or what it wrote to the state (a
    key written twice as ``{"$writes": [...]}``) and the interrupts it raised, as dicts."""
    keys = result_keys(task.run)
    return {
        "step": step,
        "timestamp": now_iso(),
        "type": "task_result",
        "payload": {
            "id": task.id,
            "name": task.name,
            "error": repr(task.error) if task.error is not None else None,
            "result": _folded([(k, v) for k, v in task.writes if k in keys or k == RETURN]),
            "interrupts": [asdict(i) for i in task.interrupts],
        },
    }


def result_keys(run: Run) -> frozenset[str]:
    """The channels a task's result shows: the state keys (a low-level graph's streamed
    channels, all of them by default)."""
    keys = run.spec.snapshot_keys
    if keys is None:
        return run.spec.result_keys or run.spec.writable_keys
    return frozenset((keys,) if isinstance(keys, str) else keys)


def _folded(writes: list[tuple[str, Any]]) -> dict[str, Any]:
    """Writes as one dict; several writes to one key become ``{"$writes": [...]}``."""
    out: dict[str, Any] = {}
    several: set[str] = set()
    for key, value in writes:
        if key not in out:
            out[key] = value
        elif key in several:
            out[key]["$writes"].append(value)
        else:
            out[key] = {"$writes": [out[key], value]}
            several.add(key)
    return out


@dataclass(frozen=True)
class TaskView:
    """A task of a checkpoint as snapshots and checkpoint events show it: what its saved
    writes say of it (its error, its interrupts, its result)."""

    task: Task
    error: Any
    interrupts: tuple[Any, ...]
    result: Any
    done: list[tuple[str, Any]] | None
    """The channel writes of a task that finished (``None`` while it still has to run)."""


def task_views(run: Run, tasks: list[Task], *, live: bool = False) -> list[TaskView]:
    """``tasks`` (a checkpoint's next tasks) with what the run's pending writes say of each.

    As LangGraph reads them: a task finished if it saved an output write (a task
    that wrote nothing saves a ``NO_WRITES`` marker); its result is then its state
    writes (``{}`` if none) or a functional-API call's return value. A record of
    the step lists every interrupt a task raised; a ``live`` view (the thread's
    head) only those still waiting, so none for a task that finished.
    """
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for tid, channel, value in run.pending_writes:
        by_task.setdefault(tid, []).append((channel, value))
    keys = result_keys(run)
    # A graph whose state is one channel shows a result as that channel's value, as LangGraph.
    snapshot_keys = run.spec.snapshot_keys
    single = run.spec.root_key or (snapshot_keys if isinstance(snapshot_keys, str) else None)
    views = []
    for task in tasks:
        writes = by_task.get(task.id, [])
        output = [(c, v) for c, v in writes if c not in _CONTROL_WRITES]
        interrupts: tuple[Any, ...] = ()
        if not (live and output):
            interrupts = tuple(i for c, v in writes if c == INTERRUPT for i in v)
        error = next((v for c, v in writes if c == ERROR), None)
        result = None
        done = None
        if output:
            done = [(c, v) for c, v in output if c not in (NO_WRITES, RETURN)]
            returned = [v for c, v in output if c == RETURN]
            if returned:
                result = returned[0]
            else:
                result = _folded([(c, v) for c, v in done if c in keys])
                result = result.get(single) if single is not None else result
        views.append(TaskView(task, error, interrupts, result, done))
    return views


def subgraph_config(run: Run, task: Task) -> dict[str, Any] | None:
    """For a task that runs a subgraph, the config of the subgraph's namespace (else ``None``)."""
    if task.node.subgraph is None:
        return None
    ns = task_namespace(run.ns, task.name, task.id)
    return {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ns}}


def _event_task(run: Run, view: TaskView) -> dict[str, Any]:
    task = view.task
    shown: dict[str, Any] = {"id": task.id, "name": task.name}
    if view.error:
        shown["error"] = view.error
    else:
        if view.result:
            shown["result"] = view.result
        shown["interrupts"] = tuple({"value": i.value, "id": i.id} for i in view.interrupts)
    shown["state"] = subgraph_config(run, task)
    return shown


def _checkpoint_config(run: Run) -> dict[str, Any] | None:
    """The config of the run's current checkpoint, also while it is held back unsaved
    (``durability="exit"``: the last one held back is the one saved at the end)."""
    if run.deferred is None or run.checkpoint_id is None:
        return run.checkpoint_config
    conf = {"thread_id": run.thread_id, "checkpoint_ns": run.ns, "checkpoint_id": run.checkpoint_id}
    return {"configurable": conf}


def _ns_first(config: Any) -> Any:
    """A checkpoint event's config in LangGraph's key order: ``checkpoint_ns`` first."""
    if not config:
        return config
    conf = config["configurable"]
    if next(iter(conf), None) == "checkpoint_ns":
        return config
    ordered = {"checkpoint_ns": conf.get("checkpoint_ns", "")}
    ordered.update((k, v) for k, v in conf.items() if k != "checkpoint_ns")
    return {**config, "configurable": ordered}


def checkpoint_event(run: Run) -> dict[str, Any]:
    """A checkpoint was saved: its config, values and the tasks that run next."""
    tasks = run.next_tasks(dry=True)
    return {
        "step": run.step,
        "timestamp": now_iso(),
        "type": "checkpoint",
        "payload": {
            "config": _ns_first(with_checkpoint_map(_checkpoint_config(run), run.metadata)),
            "parent_config": _ns_first(with_checkpoint_map(run.parent_config, run.metadata)) or None,
            "values": run.snapshot_values(),
            "metadata": run.metadata,
            "next": [t.name for t in tasks],
            "tasks": [_event_task(run, view) for view in task_views(run, tasks)],
        },
    }
