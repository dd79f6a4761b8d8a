"""What a task sees of its run: the runtime and the config a node receives.

Kept apart from :mod:`threadloom._engine._run` (the rules of a step);
:class:`~threadloom._engine._run.Run` inherits these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import TASK_CONFIG
from threadloom._engine._options import address_metadata

if TYPE_CHECKING:
    from collections.abc import Callable

    from threadloom._engine._context import Task

__all__ = ["RunTaskSetup"]


class RunTaskSetup:
    """Runtime and node config of a run's tasks (mixed into ``Run``, which sets these attributes)."""

    config: dict[str, Any]
    configurable: dict[str, Any]
    context: Any
    store: Any
    writer: Callable[[Any], None]
    checkpoint_id: str | None
    thread_id: Any
    ns: str
    step: int
    callbacks: Any
    control: Any
    _runtime: Any
    _base_task_config: dict[str, Any] | None

    @property
    def runtime(self) -> Any:
        """The :class:`~threadloom.runtime.Runtime` injected as ``runtime``."""
        if self._runtime is None:
            from threadloom.runtime import Runtime, server_info_from

            self._runtime = Runtime(
                context=self.context,
                store=self.store,
                stream_writer=self.writer,
                server_info=server_info_from(self.configurable),
                control=self.control,
            )
        return self._runtime

    def task_runtime(self, task: Task) -> Any:
        """The run's runtime with ``execution_info`` describing ``task`` (its namespace, attempt)."""
        cached = task._runtime
        if cached is not None and cached[0] == task.attempt:
            return cached[
                1
            ]  # built once per attempt (it is immutable), however often it is asked for
        from threadloom.runtime import ExecutionInfo

        ns = f"{task.name}:{task.id}"
        run_id = self.config.get("run_id")
        info = ExecutionInfo(
            checkpoint_id=self.checkpoint_id or "",
            checkpoint_ns=f"{self.ns}|{ns}" if self.ns else ns,
            task_id=task.id,
            thread_id=None if self.thread_id is None else str(self.thread_id),
            run_id=None if run_id is None else str(run_id),
            node_attempt=task.attempt,
            node_first_attempt_time=task.first_attempt_time,
        )
        runtime = self.runtime.override(execution_info=info)
        task._runtime = (task.attempt, runtime)
        return runtime

    def task_config(self, task: Task) -> Any:
        """The config a node receives: the caller's, with this task's namespace, metadata
        and callbacks (as LangGraph's: ``checkpoint_ns`` is the task's own namespace)."""
        base = self._base_task_config
        if base is None:
            configurable = dict(self.configurable)
            if self.thread_id is not None:
                configurable["thread_id"] = self.thread_id
            configurable[TASK_CONFIG] = True  # a graph called with this config is a subgraph
            metadata = address_metadata(self.config.get("metadata"), self.configurable)
            if self.thread_id is not None:
                metadata.setdefault("thread_id", self.thread_id)
            base = {**self.config, "configurable": configurable, "metadata": metadata}
            base.pop("run_id", None)  # the graph's own run id, not its nodes'
            if self.callbacks is not None:
                base["callbacks"] = self.callbacks
            self._base_task_config = base
        metadata = dict(base["metadata"])
        metadata["langgraph_step"] = self.step + 1
        metadata["langgraph_node"] = task.name
        metadata["langgraph_triggers"] = task.triggers
        metadata["langgraph_path"] = task.path
        ns = f"{task.name}:{task.id}"
        ns = f"{self.ns}|{ns}" if self.ns else ns
        metadata["langgraph_checkpoint_ns"] = ns
        configurable = {**base["configurable"], "checkpoint_ns": ns}
        return {**base, "configurable": configurable, "metadata": metadata, "run_name": task.name}
