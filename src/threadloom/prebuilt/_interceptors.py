"""Tool-call interceptors: wrap every tool execution of a ToolNode (retry, cache, rewrite).

A wrapper gets the :class:`ToolCallRequest` and an ``execute`` function; it may
call ``execute`` with the request, a changed copy (``request.override(...)``),
several times, or not at all, and returns the ``ToolMessage`` or ``Command``.

Example::

    def retry_twice(request, execute):
        result = execute(request)
        if getattr(result, "status", None) == "error":
            result = execute(request)
        return result

    node = ToolNode([my_tool], wrap_tool_call=retry_twice)
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.tools import BaseTool

from threadloom.prebuilt._injection import ToolRuntime
from threadloom.types import Command

__all__ = ["AsyncToolCallWrapper", "ToolCallRequest", "ToolCallWithContext", "ToolCallWrapper"]


@dataclass
class ToolCallRequest:
    """One tool call on its way to execution: the call, the tool (``None`` if unknown), state, runtime."""

    tool_call: ToolCall
    tool: BaseTool | None
    state: Any
    runtime: ToolRuntime[Any, Any]

    def __setattr__(self, name: str, value: Any) -> None:
        # Setting a field after construction still works but is discouraged:
        # a wrapper that retries must see the request it was given.
        if name in self.__dataclass_fields__ and name in self.__dict__:
            warnings.warn(
                f"Setting attribute '{name}' on ToolCallRequest is deprecated; "
                "use request.override(...) to get a changed copy",
                DeprecationWarning,
                stacklevel=2,
            )
        object.__setattr__(self, name, value)

    def override(self, **changes: Any) -> ToolCallRequest:
        """A copy with ``tool_call``, ``tool`` or ``state`` replaced; this request is unchanged."""
        return replace(self, **changes)


ToolCallWrapper = Callable[
    [ToolCallRequest, Callable[[ToolCallRequest], "ToolMessage | Command[Any]"]],
    "ToolMessage | Command[Any]",
]
"""``wrap_tool_call(request, execute) -> ToolMessage | Command``."""

AsyncToolCallWrapper = Callable[
    [ToolCallRequest, Callable[[ToolCallRequest], Awaitable["ToolMessage | Command[Any]"]]],
    Awaitable["ToolMessage | Command[Any]"],
]
"""``async awrap_tool_call(request, execute) -> ToolMessage | Command``."""


class ToolCallWithContext(TypedDict):
    """A single tool call sent to a ToolNode (with ``Send``) together with the state it came from."""

    __type: Literal["tool_call_with_context"]
    tool_call: ToolCall
    state: Any
