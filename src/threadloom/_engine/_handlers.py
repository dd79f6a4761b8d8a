"""Node error handlers: a failed node (after its retries) hands its error to a handler node.

The failed task writes a trigger for the handler and a record of the error to
the ``NODE_ERROR`` channel (checkpointed, so a handler still gets it after a
crash and a resume); the live exception is kept on the run for a handler
running in the same run. The handler function asks for the
:class:`~threadloom.errors.NodeError` by naming a parameter ``error``.
"""

from __future__ import annotations

import builtins
import inspect
from typing import Any

from threadloom._engine._constants import NODE_ERROR
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

    def _error(self) -> NodeError | None:
        run = current_scope("error handler").run
        channel = run.channels.get(NODE_ERROR)
        if channel is None or not channel.is_available():
            return None
        record = channel.get()
        exc = run.node_errors.get(record["node"]) or _rebuilt(record)
        return NodeError(record["node"], exc)

    def call(self, state: Any) -> Any:
        task = current_scope("error handler")
        if not self.wants_error:
            return self.target.call(task, state)
        kwargs = self.target._kwargs(task) if self.target.inject else {}
        return self.handler(state, error=self._error(), **kwargs)

    async def acall(self, state: Any) -> Any:
        task = current_scope("error handler")
        if not self.wants_error:
            return await self.target.acall(task, state)
        kwargs = self.target._kwargs(task) if self.target.inject else {}
        return await self.handler(state, error=self._error(), **kwargs)
