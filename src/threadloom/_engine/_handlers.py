"""Node error handlers: a failed node (after its retries) hands its error to a handler node.

The failed task sends the handler a record of the error (a ``Send`` packet,
checkpointed with the step, so a handler still gets it after a crash and a
resume; one per failed node, so one handler can serve several in a step).
The live exception is kept on the run for a handler running in the same run.
The handler reads the state like any node and asks for the
:class:`~threadloom.errors.NodeError` by naming a parameter ``error``.
"""

from __future__ import annotations

import builtins
import inspect
from typing import Any

from threadloom._engine._context import current_scope
from threadloom._engine._injection import NodeFunc
from threadloom.errors import NodeError

__all__ = ["ErrorHandler", "error_record"]


def error_record(node: str, exc: BaseException) -> dict[str, str]:
    """What the checkpoint keeps of a node's error: plain strings, never the object."""
    return {"node": node, "type": type(exc).__name__, "message": str(exc)}


def _rebuilt(record: dict[str, str]) -> BaseException:
    """The error of a record read back from a checkpoint: a built-in type by name, else Exception."""
    kind = getattr(builtins, record.get("type", ""), None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(record.get("message", ""))
        except Exception:
            pass
    return Exception(record.get("message", ""))


class ErrorHandler:
    """A handler node's function: the user's handler, given ``error`` when it asks for it."""

    def __init__(self, handler: Any, label: str) -> None:
        self.target = NodeFunc(handler, label)
        try:
            params = inspect.signature(handler).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        self.wants_error = "error" in params
        self.handler = handler
        self.is_async = self.target.is_async_only

    def _inputs(self, record: dict[str, str]) -> tuple[Any, Any, NodeError]:
        task = current_scope("error handler")
        run = task.run
        exc = run.node_errors.get(record["node"]) or _rebuilt(record)
        return task, run.read_input(task.node), NodeError(record["node"], exc)

    def call(self, record: dict[str, str]) -> Any:
        task, state, error = self._inputs(record)
        if not self.wants_error:
            return self.target.call(task, state)
        kwargs = self.target._kwargs(task) if self.target.inject else {}
        return self.handler(state, error=error, **kwargs)

    async def acall(self, record: dict[str, str]) -> Any:
        task, state, error = self._inputs(record)
        if not self.wants_error:
            return await self.target.acall(task, state)
        kwargs = self.target._kwargs(task) if self.target.inject else {}
        return await self.handler(state, error=error, **kwargs)
