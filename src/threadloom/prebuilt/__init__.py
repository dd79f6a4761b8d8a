"""Ready-made agents and tool nodes: ``create_react_agent``, ``ToolNode`` and what tools receive.

Example::

    from langchain_core.tools import tool
    from threadloom.prebuilt import create_react_agent
    from threadloom.testing.models import FakeChatModel, tool_call_reply

    @tool
    def add(a: int, b: int) -> int:
        \"\"\"Add two numbers.\"\"\"
        return a + b

    model = FakeChatModel(responses=[
        tool_call_reply("add", {"a": 2, "b": 3}), "It is 5."])
    agent = create_react_agent(model, [add])
    result = agent.invoke({"messages": [("user", "2 + 3?")]})
    assert result["messages"][-1].content == "It is 5."
"""

from threadloom.prebuilt._injection import (
    InjectedState,
    InjectedStore,
    InjectedToolCallId,
    ToolRuntime,
)
from threadloom.prebuilt._interceptors import ToolCallRequest
from threadloom.prebuilt._react_agent import create_react_agent
from threadloom.prebuilt._tool_node import ToolNode, tools_condition
from threadloom.prebuilt._validation_node import ValidationNode

__all__ = [
    "InjectedState",
    "InjectedStore",
    "InjectedToolCallId",
    "ToolCallRequest",
    "ToolNode",
    "ToolRuntime",
    "ValidationNode",
    "create_react_agent",
    "tools_condition",
]
