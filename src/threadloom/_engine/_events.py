"""Run events for the ``debug``, ``tasks`` and ``checkpoints`` stream modes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadloom._engine._checkpoint import now_iso

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._run import Run

__all__ = ["EVENT_MODES", "checkpoint_event", "emit_event", "task_event", "task_result_event"]

EVENT_MODES = frozenset({"debug", "tasks", "checkpoints"})
"""The modes that receive run events; the engine builds events only when one is asked for."""


def emit_event(run: Run, event: dict[str, Any]) -> None:
    """Send a run event on ``debug`` (whole) and on ``tasks``/``checkpoints`` (its payload)."""
    run.emit("debug", event)
    run.emit("checkpoints" if event["type"] == "checkpoint" else "tasks", event["payload"])


def task_event(task: Task) -> dict[str, Any]:
    """A task is about to run."""
    return {
        "type": "task",
        "timestamp": now_iso(),
        "step": task.run.step + 1,
        "payload": {
            "id": task.id,
            "name": task.name,
            "input": task.input,
            "triggers": task.triggers,
        },
    }


def task_result_event(task: Task) -> dict[str, Any]:
    """A task finished: its writes, error or interrupts."""
    return {
        "type": "task_result",
        "timestamp": now_iso(),
        "step": task.run.step,
        "payload": {
            "id": task.id,
            "name": task.name,
            "error": repr(task.error) if task.error is not None else None,
            "result": [(k, v) for k, v in task.writes if k],
            "interrupts": list(task.interrupts),
        },
    }


def checkpoint_event(run: Run) -> dict[str, Any]:
    """A checkpoint was saved: its config, values and the tasks that run next."""
    return {
        "type": "checkpoint",
        "timestamp": now_iso(),
        "step": run.step,
        "payload": {
            "config": run.checkpoint_config,
            "parent_config": run.parent_config,
            "values": run.read_state(),
            "metadata": run.metadata,
            "next": [t.name for t in run.next_tasks(dry=True)],
        },
    }
