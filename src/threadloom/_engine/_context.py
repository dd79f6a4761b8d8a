"""The task a node is running in, reachable from anywhere in the node's call stack."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from threadloom.channels.base import MISSING
from threadloom.errors import GraphInterrupt

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from threadloom._engine._run import Run
    from threadloom._engine._spec import NodeSpec

__all__ = ["Task", "current_scope", "current_task"]

_TASK: ContextVar[Task | None] = ContextVar("threadloom_task", default=None)


class Task:
    """One node execution in one superstep: its input, writes and interrupt bookkeeping."""

    __slots__ = (
        "_interrupt_count",
        "_runtime",
        "attempt",
        "config",
        "error",
        "finished",
        "first_attempt_time",
        "id",
        "inflight",
        "input",
        "interrupts",
        "node",
        "path",
        "paused",
        "result",
        "resume",
        "run",
        "subgraph_calls",
        "triggers",
        "writes",
    )

    def __init__(
        self,
        run: Run,
        node: NodeSpec,
        task_id: str,
        path: tuple[Any, ...],
        triggers: tuple[str, ...],
        task_input: Any,
    ) -> None:
        self.run = run
        self.node = node
        self.id = task_id
        self.path = path
        self.triggers = triggers
        self.input = task_input
        self.writes: list[tuple[str, Any]] = []
        self.config: RunnableConfig | None = None
        self.resume: list[Any] = []
        self.interrupts: list[Any] = []
        self.paused = False  # interrupted, possibly by a static interrupt with no values
        self.error: BaseException | None = None
        self.finished = False
        """Whether the task ran to an outcome (writes, an interrupt or an error): not cancelled."""
        self.result: Any = MISSING
        self.attempt = 1
        """The node's attempt number (1-indexed; retries count up)."""
        self.first_attempt_time: float | None = None
        """When the first attempt started (Unix time), for ``runtime.execution_info``."""
        self._interrupt_count = 0
        self._runtime: tuple[int, Any] | None = None
        """``(attempt, runtime)``: the runtime built for this attempt (see ``Run.task_runtime``)."""
        self.subgraph_calls = 0
        self.inflight: list[Any] | None = None
        """Futures of the functional-API task calls this task started (see ``_calls``)."""
        """Subgraphs this attempt has called: the second and later get namespaces of their own."""

    @property
    def name(self) -> str:
        """The node this task runs."""
        return self.node.name

    def next_interrupt(self, value: Any) -> Any:
        """The resume value of this task's next ``interrupt()`` call, or raise to pause."""
        from threadloom.types import Interrupt

        index = self._interrupt_count
        self._interrupt_count += 1
        if index < len(self.resume):
            return self.resume[index]
        answer = self.run.take_resume(self)
        if answer is not MISSING:
            self.resume.append(answer)
            return answer
        digest = hashlib.md5(f"{self.id}:{index}".encode(), usedforsecurity=False).hexdigest()
        raise GraphInterrupt([Interrupt(value=value, id=digest)])

    def __repr__(self) -> str:
        return f"Task({self.name!r}, id={self.id!r})"


def current_task() -> Task | None:
    """The task running in this context, if any."""
    return _TASK.get()


def current_scope(what: str) -> Task:
    """The running task; a clear error when ``what`` is used outside a graph node."""
    task = _TASK.get()
    if task is None:
        raise RuntimeError(f"{what}() can only be called from inside a running graph node")
    return task


def set_task(task: Task | None) -> Any:
    """Make ``task`` current; returns the token for :func:`reset_task`."""
    return _TASK.set(task)


def reset_task(token: Any) -> None:
    """Restore the task that was current before :func:`set_task`."""
    _TASK.reset(token)
