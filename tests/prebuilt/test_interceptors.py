"""Tool-call interceptors: wrap_tool_call / awrap_tool_call see and steer every execution."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool

from threadloom.prebuilt import ToolCallRequest, ToolNode


@tool
def double(x: int) -> int:
    """Double x."""
    return 2 * x


def _state(name: str = "double", **args: Any) -> dict[str, Any]:
    call = {"name": name, "args": args, "id": "c1", "type": "tool_call"}
    return {"messages": [AIMessage("", tool_calls=[call])]}


def test_wrapper_can_rewrite_the_request_without_mutating_it() -> None:
    """override() gives a changed copy; the original request keeps its arguments."""
    seen: list[ToolCallRequest] = []

    def plus_one(request: ToolCallRequest, execute: Any) -> Any:
        seen.append(request)
        call = {**request.tool_call, "args": {"x": request.tool_call["args"]["x"] + 1}}
        return execute(request.override(tool_call=call))

    out = ToolNode([double], wrap_tool_call=plus_one).invoke(_state(x=3))
    assert out["messages"][0].content == "8"
    assert seen[0].tool_call["args"] == {"x": 3}
    assert seen[0].tool is not None and seen[0].tool.name == "double"


def test_wrapper_can_retry_and_short_circuit() -> None:
    """execute may be called several times, or not at all."""
    attempts = 0

    @tool
    def flaky(x: int) -> int:
        """Fails once."""
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("down")
        return x

    def retry(request: ToolCallRequest, execute: Any) -> Any:
        try:
            return execute(request)
        except ConnectionError:
            return execute(request)

    assert (
        ToolNode([flaky], wrap_tool_call=retry).invoke(_state("flaky", x=5))["messages"][0].content
        == "5"
    )
    assert attempts == 2

    def cached(request: ToolCallRequest, execute: Any) -> Any:
        return ToolMessage("cached", tool_call_id=request.tool_call["id"], name="double")

    assert (
        ToolNode([double], wrap_tool_call=cached).invoke(_state(x=1))["messages"][0].content
        == "cached"
    )


def test_wrapper_sees_unregistered_tools_as_none() -> None:
    """A call to an unknown tool reaches the wrapper with tool=None; execute answers with an error."""
    tools: list[Any] = []

    def record(request: ToolCallRequest, execute: Any) -> Any:
        tools.append(request.tool)
        return execute(request)

    out = ToolNode([double], wrap_tool_call=record).invoke(_state("missing"))
    assert tools == [None]
    assert out["messages"][0].status == "error"


def test_async_wrapper_is_used_by_ainvoke() -> None:
    """awrap_tool_call wraps async executions; a sync wrapper is the fallback."""
    calls: list[str] = []

    async def awrap(request: ToolCallRequest, execute: Any) -> Any:
        calls.append("async")
        return await execute(request)

    def wrap(request: ToolCallRequest, execute: Any) -> Any:
        calls.append("sync")
        return execute(request)

    out = asyncio.run(ToolNode([double], awrap_tool_call=awrap).ainvoke(_state(x=2)))
    assert out["messages"][0].content == "4"
    out = asyncio.run(ToolNode([double], wrap_tool_call=wrap).ainvoke(_state(x=3)))
    assert out["messages"][0].content == "6"
    assert calls == ["async", "sync"]


def test_wrapper_errors_follow_handle_tool_errors() -> None:
    """An exception from the wrapper becomes an error message when errors are handled."""

    def boom(request: ToolCallRequest, execute: Any) -> Any:
        raise RuntimeError("wrapper broke")

    out = ToolNode([double], wrap_tool_call=boom, handle_tool_errors=True).invoke(_state(x=1))
    assert out["messages"][0].status == "error"
    assert "wrapper broke" in out["messages"][0].content
    with pytest.raises(RuntimeError, match="wrapper broke"):
        ToolNode([double], wrap_tool_call=boom, handle_tool_errors=False).invoke(_state(x=1))


def test_setting_a_request_field_warns() -> None:
    """Assigning to a request's field is deprecated in favour of override()."""
    request = ToolCallRequest(
        tool_call={"name": "a", "args": {}, "id": "1"}, tool=None, state={}, runtime=None
    )  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning, match="override"):
        request.state = {"x": 1}
    assert request.state == {"x": 1}
