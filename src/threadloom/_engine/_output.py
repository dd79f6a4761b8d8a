"""What a run streams and returns: the ``Run`` methods that turn its channels into output.

Kept apart from :mod:`threadloom._engine._run` (the rules of a step) so that each
file stays readable; :class:`~threadloom._engine._run.Run` inherits these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import INTERRUPT, MISSING, START
from threadloom._engine._events import EVENT_MODES, emit_event, task_result_event
from threadloom._engine._timeout import progress

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._spec import GraphSpec
    from threadloom.channels.base import BaseChannel
    from threadloom.types import Interrupt

__all__ = ["RunOutput"]


class RunOutput:
    """Streaming and output of a run (mixed into ``Run``, which sets these attributes)."""

    modes: frozenset[str]
    sink: Any
    ns_path: tuple[str, ...]
    parent: Any
    spec: GraphSpec
    updated: set[str] | None
    cached_tasks: set[str]
    streamed: set[str]
    interrupts: list[Interrupt]
    channels: dict[str, BaseChannel]
    output_keys: str | tuple[str, ...]
    step: int
    output_shown = False
    """Whether this run resumed or wrote its output channels (what a low-level graph returns)."""

    def read_state(self, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        raise NotImplementedError  # Run's

    def emit(self, mode: str, payload: Any) -> None:
        """Send a stream part if the caller asked for ``mode``."""
        if mode in self.modes:
            self.sink(self.ns_path, mode, payload)

    def _write_custom(self, chunk: Any) -> None:
        progress()
        self.sink(self.ns_path, "custom", chunk)

    def emit_values(self) -> None:
        """Stream the output state if the step wrote to it (a low-level graph: its stream channels)."""
        if self.spec.snapshot_keys is not None and not self.output_shown:
            out = self.output_keys
            if self.updated is None or not self.updated.isdisjoint((out,) if isinstance(out, str) else out):
                self.output_shown = True
        if "values" in self.modes:
            keys = self.spec.stream_keys
            if keys is None:
                out = self.output_keys
                if self.updated is None or not self.updated.isdisjoint(
                    (out,) if isinstance(out, str) else out
                ):
                    self.sink(self.ns_path, "values", self.output())
            elif self.updated and not self.updated.isdisjoint(
                (keys,) if isinstance(keys, str) else keys
            ):
                self.sink(self.ns_path, "values", self.view(keys))

    def emit_resumed(self) -> None:
        """A resumed run starts by streaming the state it resumes from, as LangGraph does."""
        self.output_shown = True
        if "values" in self.modes:
            keys = self.spec.stream_keys
            self.sink(self.ns_path, "values", self.output() if keys is None else self.view(keys))

    def emit_finished(self, task: Task) -> None:
        """Stream a task's update and its task result as soon as it finished, as LangGraph
        does (so a step's parts come in the order its tasks finish, between what subgraphs
        stream)."""
        if task.error is None and not task.paused and task.result is not MISSING:
            if "updates" in self.modes:
                self.sink(self.ns_path, "updates", {task.name: task.result})
            if self.modes & EVENT_MODES:
                emit_event(self, task_result_event(task, self.step + 1))  # type: ignore[arg-type]
            self.streamed.add(task.id)

    def emit_updates(self, tasks: list[Task]) -> None:
        """Stream the update of each task not streamed yet (one answered from saved writes
        or the cache, marked so), in task order."""
        if "updates" in self.modes:
            cached = self.cached_tasks
            streamed = self.streamed
            for task in tasks:
                if streamed and task.id in streamed:
                    continue
                if cached and task.id in cached:
                    part = {task.name: task.result, "__metadata__": {"cached": True}}
                    self.sink(self.ns_path, "updates", part)
                else:
                    self.sink(self.ns_path, "updates", {task.name: task.result})

    def emit_stopped(self, tasks: list[Task]) -> None:
        """Stream a step that did not complete: each finished task's update, each pause.

        As in LangGraph, every task reports on its own: a finished task its update,
        an interrupted one ``{"__interrupt__": its interrupts}`` (and, on ``values``,
        the state with them); a static interrupt (no tasks) reports ``()``.
        """
        modes = self.modes
        if not modes:
            return
        if not tasks:
            if "updates" in modes:
                self.sink(self.ns_path, "updates", {INTERRUPT: ()})
            return
        for task in tasks:
            if task.name == START:
                continue  # START is hidden from streams, as in LangGraph
            if task.paused:
                interrupts = tuple(task.interrupts)
                # A subgraph's static stop (no interrupt values) is reported by the root alone.
                if "updates" in modes and (interrupts or self.parent is None):
                    self.sink(self.ns_path, "updates", {INTERRUPT: interrupts})
                if "values" in modes and interrupts:  # a subgraph's static stop shows no state
                    self.sink(self.ns_path, "values", _with_interrupts(self.output(), interrupts))
            elif task.error is None and task.result is not MISSING:
                self.emit_updates([task])

    def view(self, keys: str | tuple[str, ...]) -> Any:
        """The value of one channel (``None`` when empty), or a dict of several that hold one."""
        if isinstance(keys, str):
            channel = self.channels[keys]
            return channel.get() if channel.is_available() else None
        return self.read_state(keys)

    def snapshot_values(self) -> Any:
        """What ``get_state().values`` shows: the state, or a graph's streamed channels."""
        spec = self.spec
        if spec.snapshot_keys is not None:
            return self.view(spec.snapshot_keys)
        if isinstance(spec.output_keys, str):
            return self.view(spec.output_keys)
        return self.read_state()

    def output(self) -> Any:
        """The output state: the output keys that hold a value (one key: its value alone)."""
        keys = self.output_keys
        if isinstance(keys, str):
            channel = self.channels[keys]
            return channel.get() if channel.is_available() else None
        return self.read_state(keys)

    def final_output(self) -> Any:
        """What ``invoke`` returns: the output state, plus interrupts if the run paused.

        A low-level graph returns ``None`` when the run neither resumed nor wrote its output
        channels (LangGraph returns the last output it streamed, and there was none).
        """
        out = self.output() if self.output_shown or self.spec.snapshot_keys is None else None
        if self.interrupts:
            return _with_interrupts(out, list(self.interrupts))
        return out


def _with_interrupts(output: Any, interrupts: Any) -> dict[str, Any]:
    if isinstance(output, dict):
        output[INTERRUPT] = interrupts
        return output
    return {INTERRUPT: interrupts}  # a single output key: its value cannot carry them
