"""Names the engine reserves: graph ends, internal channels and write keys."""

from __future__ import annotations

from typing import Any, Final

from threadloom.channels.base import MISSING as _MISSING

__all__ = [
    "COPY",
    "END",
    "ERROR",
    "INPUT",
    "INTERRUPT",
    "MISSING",
    "NO_WRITES",
    "NULL_TASK_ID",
    "PULL",
    "PUSH",
    "RESERVED",
    "RESUME",
    "RETURN",
    "ROOT",
    "START",
    "TASKS",
    "TASK_CONFIG",
    "branch_channel",
    "join_channel",
]

START: Final = "__start__"
"""The first node of every graph: edges from it choose the entry point."""
END: Final = "__end__"
"""The last node of every graph: an edge to it ends a path."""

ROOT: Final = "__root__"
"""The one channel of a graph whose state is a single value, not a dict of keys."""
COPY: Final = "__copy__"
"""``update_state(as_node=...)`` name that forks a checkpoint without changing it."""
INPUT: Final = "__input__"
"""``update_state(as_node=...)`` name that writes the values as the graph's input."""
TASK_CONFIG: Final = "__threadloom_task__"
"""``configurable`` key of the config a node receives (a graph called with it is a subgraph)."""
TASKS: Final = "__tasks__"
"""Channel that carries the ``Send`` packets of one step to the next."""
INTERRUPT: Final = "__interrupt__"
"""Pending-write key of an interrupt, and the output key that reports interrupts."""
RESUME: Final = "__resume__"
"""Pending-write key of the resume values a task has received."""
RETURN: Final = "__return__"
"""Pending-write key of the result of a finished functional-API task call."""
ERROR: Final = "__error__"
"""Pending-write key of the error a task failed with."""
PULL: Final = "__pregel_pull"
"""First element of the path of a task that a node's triggers planned: ``(PULL, name)``."""
PUSH: Final = "__pregel_push"
"""First element of the path of a task that a ``Send`` planned: ``(PUSH, index)``."""
NO_WRITES: Final = "__no_writes__"
"""Pending-write key that records a finished task which wrote nothing."""
NULL_TASK_ID: Final = "00000000-0000-0000-0000-000000000000"
"""Task id of writes that belong to no task (a resume value for the whole step)."""

RESERVED: Final = frozenset({START, END, TASKS, INTERRUPT, RESUME, RETURN, ERROR})


MISSING: Final[Any] = _MISSING


def branch_channel(node: str) -> str:
    """Name of the channel whose write schedules ``node`` for the next step."""
    return f"branch:to:{node}"


def join_channel(sources: tuple[str, ...], node: str) -> str:
    """Name of the barrier channel that waits for all ``sources`` before ``node``."""
    return f"join:{'+'.join(sources)}:{node}"
