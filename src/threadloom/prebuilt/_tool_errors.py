"""How a failing tool call becomes a ``ToolMessage`` the model can read, or an exception.

``handle_tool_errors`` on :class:`~threadloom.prebuilt.ToolNode` chooses: ``True``
(every error, default text), a string (every error, that text), exception
types (those errors only), a function (the errors its first parameter's
annotation names; its return value is the text) or ``False`` (raise).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import UnionType
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

from langchain_core.tools import ToolException
from pydantic import ValidationError

from threadloom.prebuilt._injection import InjectedArgs

__all__ = [
    "INVALID_TOOL_NAME_ERROR_TEMPLATE",
    "TOOL_CALL_ERROR_TEMPLATE",
    "TOOL_EXECUTION_ERROR_TEMPLATE",
    "TOOL_INVOCATION_ERROR_TEMPLATE",
    "ErrorHandler",
    "ToolInvocationError",
    "default_handle_tool_errors",
    "error_content",
    "filter_validation_errors",
    "handled_types",
    "infer_handled_types",
]

ErrorHandler = bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...]

INVALID_TOOL_NAME_ERROR_TEMPLATE = (
    "Error: {requested_tool} is not a valid tool, try one of [{available_tools}]."
)
TOOL_CALL_ERROR_TEMPLATE = "Error: {error}\n Please fix your mistakes."
TOOL_EXECUTION_ERROR_TEMPLATE = (
    "Error executing tool '{tool_name}' with kwargs {tool_kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)
TOOL_INVOCATION_ERROR_TEMPLATE = (
    "Error invoking tool '{tool_name}' with kwargs {tool_kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)


class ToolInvocationError(ToolException):
    """The model called a tool with arguments that do not fit its schema.

    ``message`` lists only the problems with arguments the model controls
    (injected ones are left out: the model cannot fix them).
    """

    def __init__(
        self,
        tool_name: str,
        source: ValidationError,
        tool_kwargs: dict[str, Any],
        filtered_errors: list[Any] | None = None,
    ) -> None:
        if filtered_errors is not None:
            detail = "\n".join(
                f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'Unknown error')}"
                for e in filtered_errors
            )
        else:
            detail = str(source)
        self.message = TOOL_INVOCATION_ERROR_TEMPLATE.format(
            tool_name=tool_name, tool_kwargs=tool_kwargs, error=detail
        )
        self.tool_name = tool_name
        self.tool_kwargs = tool_kwargs
        self.source = source
        self.filtered_errors = filtered_errors
        super().__init__(self.message)


def default_handle_tool_errors(e: Exception) -> str:
    """The default: bad arguments from the model become a message; other errors raise."""
    if isinstance(e, ToolInvocationError):
        return e.message
    raise e


def infer_handled_types(handler: Callable[..., Any]) -> tuple[type[Exception], ...]:
    """The exception types a handler function accepts, from its first parameter's annotation."""
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        return (Exception,)
    first = params[1] if params[0].name in ("self", "cls") and len(params) == 2 else params[0]
    hints = get_type_hints(handler)
    if first.name not in hints:
        return (Exception,)
    annotation = hints[first.name]
    if get_origin(annotation) in (Union, UnionType):
        members = get_args(annotation)
        if all(isinstance(m, type) and issubclass(m, Exception) for m in members):
            return tuple(members)
        raise ValueError(
            "every type in the error handler's annotation must be an Exception type, e.g. "
            f"`def handler(e: ValueError | TypeError)`; got '{first.annotation}'"
        )
    if isinstance(annotation, type) and issubclass(annotation, Exception):
        return (annotation,)
    raise ValueError(
        "annotate the error handler's argument with an Exception type or a union of them, "
        f"e.g. `def handler(e: ValueError)`; got '{annotation}'"
    )


def handled_types(flag: ErrorHandler) -> tuple[type[Exception], ...]:
    """The exceptions ``flag`` turns into messages (everything for ``True`` and strings)."""
    if isinstance(flag, type) and issubclass(flag, Exception):
        return (flag,)
    if isinstance(flag, tuple):
        return flag
    if callable(flag) and not isinstance(flag, type):
        return infer_handled_types(flag)
    return (Exception,)


def error_content(e: Exception, flag: ErrorHandler) -> str:
    """The text of the error ``ToolMessage`` for ``e`` under ``flag``."""
    if isinstance(flag, (bool, tuple)) or (isinstance(flag, type) and issubclass(flag, Exception)):
        return TOOL_CALL_ERROR_TEMPLATE.format(error=repr(e))
    if isinstance(flag, str):
        return flag
    if callable(flag):
        handler = cast("Callable[[Exception], str]", flag)
        return handler(e)
    raise ValueError(
        f"handle_tool_errors must be a bool, str, callable or exception types, got {flag!r}"
    )


def filter_validation_errors(error: ValidationError, injected: InjectedArgs | None) -> list[Any]:
    """The validation errors about arguments the model supplied, without injected values."""
    hidden: set[str] = set()
    if injected:
        hidden.update(injected.state)
        if injected.store:
            hidden.add(injected.store)
        if injected.runtime:
            hidden.add(injected.runtime)
    kept: list[Any] = []
    for detail in error.errors():
        if not detail["loc"] or detail["loc"][0] in hidden:
            continue
        copy: dict[str, Any] = {**detail}
        if isinstance(copy.get("input"), dict):
            copy["input"] = {k: v for k, v in copy["input"].items() if k not in hidden}
        kept.append(copy)
    return kept
