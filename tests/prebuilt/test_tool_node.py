"""ToolNode: runs the tool calls of the last AI message and answers each with a ToolMessage."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from typing_extensions import TypedDict

from threadloom.graph import START, MessagesState, StateGraph, add_messages
from threadloom.prebuilt import (
    InjectedState,
    InjectedStore,
    InjectedToolCallId,
    ToolNode,
    ToolRuntime,
    tools_condition,
)
from threadloom.prebuilt.tool_node import ToolInvocationError
from threadloom.store.memory import InMemoryStore
from threadloom.types import Command


def _calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        "",
        tool_calls=[
            {"name": name, "args": args, "id": f"c{i}", "type": "tool_call"}
            for i, (name, args) in enumerate(calls)
        ],
    )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


def test_runs_langchain_tools_and_plain_functions() -> None:
    """A LangChain tool and a plain function both answer their call, in call order."""
    node = ToolNode([add, shout])
    out = node.invoke({"messages": [_calls(("add", {"a": 2, "b": 3}), ("shout", {"text": "hi"}))]})
    assert [(m.content, m.name, m.tool_call_id) for m in out["messages"]] == [
        ("5", "add", "c0"),
        ("HI", "shout", "c1"),
    ]


def test_list_input_gives_list_output_and_tool_call_input_is_accepted() -> None:
    """A list of messages gives a list of ToolMessages; bare tool calls work too."""
    node = ToolNode([add])
    message = _calls(("add", {"a": 1, "b": 1}))
    assert [m.content for m in node.invoke([message])] == ["2"]
    assert node.invoke(list(message.tool_calls))["messages"][0].content == "2"


def test_parallel_tool_calls_run_at_the_same_time() -> None:
    """Two calls of one message run concurrently: each waits for the other at a barrier."""
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def meet(who: str) -> str:
        """Wait for the other call."""
        barrier.wait()
        return who

    out = ToolNode([meet]).invoke(
        {"messages": [_calls(("meet", {"who": "a"}), ("meet", {"who": "b"}))]}
    )
    assert [m.content for m in out["messages"]] == ["a", "b"]


def test_parallel_tool_calls_run_concurrently_async() -> None:
    """The async path gathers the calls: both reach the event before either finishes."""

    @tool
    async def meet(who: str, event_name: str) -> str:
        """Wait for the other call."""
        started.append(who)
        while len(started) < 2:
            await asyncio.sleep(0.001)
        return who

    started: list[str] = []
    node = ToolNode([meet])
    message = _calls(
        ("meet", {"who": "a", "event_name": "x"}), ("meet", {"who": "b", "event_name": "x"})
    )
    out = asyncio.run(asyncio.wait_for(node.ainvoke({"messages": [message]}), 5))
    assert [m.content for m in out["messages"]] == ["a", "b"]


@tool
def fails(x: int) -> str:
    """Always fails."""
    raise ValueError(f"bad {x}")


def test_tool_errors_raise_by_default_but_bad_arguments_become_messages() -> None:
    """Default: a tool's own exception propagates; wrong arguments are answered for the model."""
    with pytest.raises(ValueError, match="bad 1"):
        ToolNode([fails]).invoke({"messages": [_calls(("fails", {"x": 1}))]})
    out = ToolNode([add]).invoke({"messages": [_calls(("add", {"a": "not a number"}))]})
    message = out["messages"][0]
    assert message.status == "error"
    assert "Error invoking tool 'add'" in message.content
    assert "b: Field required" in message.content


def test_handle_tool_errors_true_and_string() -> None:
    """True answers every error with the default text; a string answers with that string."""
    msg = _calls(("fails", {"x": 1}))
    out = ToolNode([fails], handle_tool_errors=True).invoke({"messages": [msg]})
    assert out["messages"][0].content == "Error: ValueError('bad 1')\n Please fix your mistakes."
    assert out["messages"][0].status == "error"
    out = ToolNode([fails], handle_tool_errors="try again").invoke({"messages": [msg]})
    assert out["messages"][0].content == "try again"


def test_handle_tool_errors_by_type_and_by_handler_annotation() -> None:
    """Exception types and a handler's annotation select which errors become messages."""
    msg = {"messages": [_calls(("fails", {"x": 1}))]}
    assert (
        ToolNode([fails], handle_tool_errors=(ValueError,)).invoke(msg)["messages"][0].status
        == "error"
    )
    with pytest.raises(ValueError):
        ToolNode([fails], handle_tool_errors=KeyError).invoke(msg)

    def on_value(e: ValueError) -> str:
        return f"handled {e}"

    def on_key(e: KeyError) -> str:
        return "never"

    assert (
        ToolNode([fails], handle_tool_errors=on_value).invoke(msg)["messages"][0].content
        == "handled bad 1"
    )
    with pytest.raises(ValueError, match="bad 1"):
        ToolNode([fails], handle_tool_errors=on_key).invoke(msg)


def test_handle_tool_errors_false_raises_even_for_bad_arguments() -> None:
    """False: every error propagates, a validation error as ToolInvocationError."""
    with pytest.raises(ToolInvocationError, match="add"):
        ToolNode([add], handle_tool_errors=False).invoke({"messages": [_calls(("add", {"a": 1}))]})


def test_unknown_tool_is_answered_with_the_valid_names() -> None:
    """A call to a tool the node lacks gets an error message listing the real ones."""
    out = ToolNode([add, shout]).invoke({"messages": [_calls(("nope", {}))]})
    assert out["messages"][0].content == "Error: nope is not a valid tool, try one of [add, shout]."


def test_messages_key_reads_and_writes_another_key() -> None:
    """messages_key names the state key holding the conversation, in and out."""
    out = ToolNode([add], messages_key="chat").invoke({"chat": [_calls(("add", {"a": 1, "b": 2}))]})
    assert out == {"chat": [ToolMessage("3", name="add", tool_call_id="c0")]}
    assert tools_condition({"chat": [_calls(("add", {}))]}, messages_key="chat") == "tools"


def test_tools_condition_routes_on_tool_calls() -> None:
    """tools_condition sends tool calls to "tools" and everything else to the end."""
    assert tools_condition({"messages": [_calls(("add", {}))]}) == "tools"
    assert tools_condition([AIMessage("done")]) == "__end__"
    with pytest.raises(ValueError, match="No messages"):
        tools_condition({"messages": []})


class _State(TypedDict):
    messages: Annotated[list[Any], add_messages]
    user: str


@tool
def whoami(
    query: str,
    user: Annotated[str, InjectedState("user")],
    state: Annotated[dict[str, Any], InjectedState],
    store: Annotated[Any, InjectedStore()],
    call_id: Annotated[str, InjectedToolCallId],
) -> str:
    """Say who asks."""
    item = store.get(("users",), user)
    return f"{query}:{user}:{len(state['messages'])}:{item.value['age']}:{call_id}"


def test_injected_arguments_are_hidden_from_the_model() -> None:
    """The model's schema lists only `query`; state, store and call id are injected."""
    assert set(whoami.tool_call_schema.model_json_schema()["properties"]) == {"query"}

    @tool
    def with_runtime(x: int, runtime: ToolRuntime) -> int:
        """Uses the runtime."""
        return x

    assert set(with_runtime.tool_call_schema.model_json_schema()["properties"]) == {"x"}


def _tool_graph(*tools: BaseTool, store: Any = None) -> Any:
    def model(state: _State) -> dict[str, Any]:
        return {}

    builder = StateGraph(_State)
    builder.add_node("tools", ToolNode(list(tools)))
    builder.add_edge(START, "tools")
    return builder.compile(store=store)


def test_state_store_and_tool_call_id_are_injected_in_a_graph() -> None:
    """Inside a graph a tool receives the state key, the whole state, the store and its call id."""
    store = InMemoryStore()
    store.put(("users",), "ann", {"age": 41})
    graph = _tool_graph(whoami, store=store)
    out = graph.invoke({"messages": [_calls(("whoami", {"query": "q"}))], "user": "ann"})
    assert out["messages"][-1].content == "q:ann:1:41:c0"


def test_model_supplied_values_for_injected_arguments_are_replaced() -> None:
    """A model cannot set an injected argument: the state's value wins."""
    store = InMemoryStore()
    store.put(("users",), "ann", {"age": 41})
    graph = _tool_graph(whoami, store=store)
    forged = _calls(("whoami", {"query": "q", "user": "root", "call_id": "forged"}))
    out = graph.invoke({"messages": [forged], "user": "ann"})
    assert out["messages"][-1].content == "q:ann:1:41:c0"


def test_injected_store_without_a_store_is_a_clear_error() -> None:
    """A tool asking for the store in a graph compiled without one fails with a message."""
    graph = _tool_graph(whoami)
    with pytest.raises(ValueError, match="compile your graph with a store"):
        graph.invoke({"messages": [_calls(("whoami", {"query": "q"}))], "user": "ann"})


def test_tool_runtime_carries_state_context_store_config_and_writer() -> None:
    """ToolRuntime gives a tool the state, run context, store, config, stream writer and call id."""

    @tool
    def inspect_runtime(runtime: ToolRuntime) -> str:
        """Report what the runtime holds."""
        runtime.stream_writer({"progress": runtime.tool_call_id})
        return "|".join(
            [
                str(len(runtime.state["messages"])),
                runtime.context["user"],
                str(runtime.store is not None),
                runtime.config["configurable"]["thread_id"],
                str([t.name for t in runtime.tools]),
            ]
        )

    from threadloom.checkpoint.memory import InMemorySaver

    builder = StateGraph(MessagesState, context_schema=dict)
    builder.add_node("tools", ToolNode([inspect_runtime]))
    builder.add_edge(START, "tools")
    graph = builder.compile(store=InMemoryStore(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    chunks = list(
        graph.stream(
            {"messages": [_calls(("inspect_runtime", {}))]},
            config,
            context={"user": "ann"},
            stream_mode=["custom", "values"],
        )
    )
    assert ("custom", {"progress": "c0"}) in chunks
    final = [c for mode, c in chunks if mode == "values"][-1]
    assert final["messages"][-1].content == "1|ann|True|t1|['inspect_runtime']"


def test_tool_returning_command_updates_the_state() -> None:
    """A tool's Command updates other state keys along with its ToolMessage."""

    @tool
    def rename(name: str, call_id: Annotated[str, InjectedToolCallId]) -> Command[Any]:
        """Set the user name."""
        return Command(update={"user": name, "messages": [ToolMessage("ok", tool_call_id=call_id)]})

    graph = _tool_graph(rename, add)
    out = graph.invoke(
        {"messages": [_calls(("rename", {"name": "bo"}), ("add", {"a": 1, "b": 1}))], "user": "ann"}
    )
    assert out["user"] == "bo"
    assert [(m.content, m.name) for m in out["messages"][1:]] == [("ok", "rename"), ("2", "add")]


def test_command_without_a_matching_tool_message_is_rejected() -> None:
    """A Command that does not answer its tool call is a ValueError naming the tool."""

    @tool
    def silent() -> Command[Any]:
        """Forgets to answer."""
        return Command(update={"messages": [HumanMessage("hi")]})

    with pytest.raises(ValueError, match=r"matching ToolMessage.*'silent'"):
        ToolNode([silent]).invoke({"messages": [_calls(("silent", {}))]})


def test_async_tools_run_with_ainvoke() -> None:
    """ainvoke runs async tools (and sync ones) and answers in call order."""

    @tool
    async def slow_double(x: int) -> int:
        """Double x."""
        await asyncio.sleep(0)
        return 2 * x

    node = ToolNode([slow_double, add])
    out = asyncio.run(
        node.ainvoke({"messages": [_calls(("slow_double", {"x": 4}), ("add", {"a": 1, "b": 2}))]})
    )
    assert [m.content for m in out["messages"]] == ["8", "3"]


def test_non_text_results_are_json() -> None:
    """A dict result is JSON text in the ToolMessage."""

    @tool
    def info() -> dict[str, Any]:
        """Return a dict."""
        return {"a": 1, "é": [True, None]}

    out = ToolNode([info]).invoke({"messages": [_calls(("info", {}))]})
    assert out["messages"][0].content == '{"a": 1, "é": [true, null]}'


def test_no_ai_message_is_a_value_error() -> None:
    """Input without an AI message (or without messages) is a ValueError."""
    node = ToolNode([add])
    with pytest.raises(ValueError, match="No AIMessage"):
        node.invoke({"messages": [HumanMessage("hi")]})
    with pytest.raises(ValueError, match="No message"):
        node.invoke({"other": 1})
