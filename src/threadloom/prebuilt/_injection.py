"""What a tool may receive besides the model's arguments: state, store, tool call id, runtime.

A tool declares it with an annotation (``Annotated[dict, InjectedState]``,
``Annotated[BaseStore, InjectedStore()]``, ``Annotated[str, InjectedToolCallId]``)
or by taking a ``runtime: ToolRuntime`` parameter. Those arguments are hidden
from the schema the model sees and filled in by :class:`~threadloom.prebuilt.ToolNode`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Generic, Union, get_args, get_origin, get_type_hints

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, InjectedToolArg, InjectedToolCallId
from langchain_core.tools.base import (
    _DirectlyInjectedToolArg,
    _is_injected_arg_type,
    get_all_basemodel_annotations,
)
from typing_extensions import TypeVar

from threadloom.runtime import ExecutionInfo, ServerInfo
from threadloom.types import StreamWriter

__all__ = [
    "InjectedArgs",
    "InjectedState",
    "InjectedStore",
    "InjectedToolCallId",
    "ToolRuntime",
    "injected_args_of",
]

StateT = TypeVar("StateT", default=dict[str, Any])
ContextT = TypeVar("ContextT", default=None)


class InjectedState(InjectedToolArg):
    """Give a tool the graph state, or one key of it: ``Annotated[list, InjectedState("messages")]``.

    Example::

        @tool
        def count(state: Annotated[dict, InjectedState]) -> int:
            \"\"\"How many messages so far.\"\"\"
            return len(state["messages"])
    """

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """Give a tool the store the graph was compiled with: ``Annotated[BaseStore, InjectedStore()]``."""


def _no_write(_: Any) -> None:
    return None


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """Everything a tool may need from the run, in one argument: ``runtime: ToolRuntime``.

    ``state`` is the graph state the tool call came from, ``context`` the run
    context, ``store`` the compiled store, ``stream_writer`` writes to the
    ``custom`` stream, ``tool_call_id`` names the call being answered.
    """

    state: StateT
    context: ContextT
    config: RunnableConfig
    stream_writer: StreamWriter
    tool_call_id: str | None
    store: Any
    tools: list[BaseTool] = field(default_factory=list)
    execution_info: ExecutionInfo | None = None
    server_info: ServerInfo | None = None

    def emit_output_delta(self, delta: Any) -> None:
        """Stream a partial result of this tool call on the ``custom`` stream."""
        self.stream_writer({"tool_call_id": self.tool_call_id, "delta": delta})


@dataclass
class InjectedArgs:
    """Which parameters of one tool are injected, worked out once per tool.

    ``state`` maps a parameter to the state key it receives (``None``: the
    whole state); ``store`` and ``runtime`` name the parameters that receive
    the store and the :class:`ToolRuntime`.
    """

    state: dict[str, str | None]
    store: str | None
    runtime: str | None
    all_injected_keys: set[str]
    optional_state_args: set[str]

    def __bool__(self) -> bool:
        return bool(self.state or self.store or self.runtime or self.all_injected_keys)


def _marker(hint: Any, kind: type) -> Any:
    """The ``kind`` marker (instance or class) that ``hint`` carries, or ``None``."""
    if isinstance(hint, kind) or (isinstance(hint, type) and issubclass(hint, kind)):
        return hint
    origin = get_origin(hint)
    if origin is Annotated:
        found = [a for a in get_args(hint)[1:] if _marker(a, kind) is not None]
        if len(found) > 1:
            raise ValueError(
                f"a tool argument may be annotated with {kind.__name__} only once, got {found}"
            )
        if found:
            return found[0]
        return _marker(get_args(hint)[0], kind)
    if origin is Union or origin is UnionType:
        for arg in get_args(hint):
            found_one = _marker(arg, kind)
            if found_one is not None:
                return found_one
    elif origin is not None and isinstance(origin, type) and issubclass(origin, kind):
        return origin  # ToolRuntime[Context, State]
    return None


def injected_args_of(tool: BaseTool) -> InjectedArgs:
    """Read ``tool``'s schema and function signature for injected parameters."""
    schema = tool.get_input_schema()
    hints: dict[str, Any] = {}
    func = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if func is not None:
        # Unresolvable forward references: rely on the schema alone.
        with contextlib.suppress(Exception):
            hints.update(get_type_hints(func, include_extras=True))
    hints.update(get_all_basemodel_annotations(schema))
    state: dict[str, str | None] = {}
    optional: set[str] = set()
    store: str | None = None
    runtime: str | None = None
    injected: set[str] = set()
    fields = getattr(schema, "model_fields", {})
    for name, hint in hints.items():
        if _is_injected_arg_type(hint):
            injected.add(name)
        if name == "runtime":
            runtime = name
        marker = _marker(hint, InjectedState)
        if marker is not None:
            key = marker.field if isinstance(marker, InjectedState) else None
            state[name] = key
            info = fields.get(name)
            if key and info is not None and not info.is_required():
                optional.add(name)
        if _marker(hint, InjectedStore) is not None:
            store = name
        if _marker(hint, ToolRuntime) is not None:
            runtime = name
    return InjectedArgs(state, store, runtime, injected, optional)
