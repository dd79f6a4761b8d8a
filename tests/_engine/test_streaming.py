"""Stream modes: values, updates, messages, custom, debug, several at once, subgraphs."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typing_extensions import TypedDict

from threadloom.config import get_stream_writer
from threadloom.graph import START, MessagesState, StateGraph


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def two_step_graph():
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile()


def chat_graph(reply: str = "hello there friend"):
    model = GenericFakeChatModel(messages=iter([AIMessage(reply)] * 5))

    def call(state: MessagesState) -> dict:
        return {"messages": model.invoke(state["messages"])}

    builder = StateGraph(MessagesState)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    return builder.compile()


def test_values_mode_yields_the_state_after_input_and_each_step() -> None:
    """stream_mode='values' yields the whole state after the input and after every step."""
    parts = list(two_step_graph().stream({"x": 0}, stream_mode="values"))
    assert parts == [
        {"x": 0, "log": []},
        {"x": 1, "log": ["a"]},
        {"x": 1, "log": ["a", "b"]},
    ]


def test_updates_mode_is_the_default_and_yields_each_nodes_update() -> None:
    """stream() yields {node: update} per node by default."""
    assert list(two_step_graph().stream({"x": 0})) == [
        {"a": {"x": 1, "log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


def test_a_list_of_modes_yields_mode_part_pairs() -> None:
    """With a list of modes each part is a (mode, part) pair."""
    parts = list(two_step_graph().stream({"x": 0}, stream_mode=["updates", "values"]))
    assert [mode for mode, _ in parts] == ["values", "updates", "values", "updates", "values"]


def test_invoke_with_a_stream_mode_returns_the_list_of_parts() -> None:
    """invoke(stream_mode='updates') returns the parts as a list."""
    assert len(two_step_graph().invoke({"x": 0}, stream_mode="updates")) == 2


def test_custom_mode_streams_what_nodes_write() -> None:
    """Data sent through the writer parameter or get_stream_writer() is streamed as custom."""

    def node(state: State, writer) -> dict:
        writer({"progress": 1})
        get_stream_writer()({"progress": 2})
        return {"x": 1}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile()
    assert list(graph.stream({"x": 0}, stream_mode="custom")) == [{"progress": 1}, {"progress": 2}]
    assert graph.invoke({"x": 0}) == {"x": 1, "log": []}  # the writer is silent when not streamed


def test_messages_mode_streams_chat_model_tokens_with_metadata() -> None:
    """stream_mode='messages' yields the model's chunks as they arrive, with the node's metadata."""
    parts = list(chat_graph().stream({"messages": [("user", "hi")]}, stream_mode="messages"))
    assert "".join(chunk.content for chunk, _ in parts) == "hello there friend"
    assert len(parts) > 1
    assert all(meta["langgraph_node"] == "call" for _, meta in parts)


async def test_messages_mode_works_with_astream() -> None:
    """astream(stream_mode='messages') streams tokens too."""
    parts = [
        p async for p in chat_graph("a b").astream({"messages": ["hi"]}, stream_mode="messages")
    ]
    assert "".join(chunk.content for chunk, _ in parts) == "a b"


def test_messages_mode_sends_node_returned_messages_that_were_not_streamed() -> None:
    """A message a node returns without a model call is streamed once, whole."""
    builder = StateGraph(MessagesState)
    builder.add_node("n", lambda s: {"messages": [AIMessage("plain")]})
    builder.add_edge(START, "n")
    parts = list(builder.compile().stream({"messages": ["hi"]}, stream_mode="messages"))
    assert [(m.content, meta["langgraph_node"]) for m, meta in parts] == [("plain", "n")]


def test_debug_mode_reports_tasks_and_results() -> None:
    """stream_mode='debug' yields task and task_result events."""
    kinds = [p["type"] for p in two_step_graph().stream({"x": 0}, stream_mode="debug")]
    assert kinds == ["task", "task_result", "task", "task_result"]


def test_subgraph_parts_carry_their_namespace() -> None:
    """With subgraphs=True, parts from inside a subgraph come with its namespace."""
    inner = StateGraph(State)
    inner.add_node("inner_node", lambda s: {"log": ["inner"]})
    inner.add_edge(START, "inner_node")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    parts = list(outer.compile().stream({"x": 0}, stream_mode="updates", subgraphs=True))
    namespaces = [ns for ns, _ in parts]
    assert namespaces[0][0].startswith("sub:")
    assert parts[-1] == ((), {"sub": {"x": 0, "log": ["inner"]}})


def test_unknown_stream_mode_is_a_value_error() -> None:
    """An unknown stream_mode is rejected with a ValueError naming it."""
    with pytest.raises(ValueError, match="'loud'"):
        list(two_step_graph().stream({"x": 0}, stream_mode="loud"))


def test_checkpoints_and_tasks_modes_report_saved_checkpoints_and_task_events() -> None:
    """'checkpoints' yields each saved checkpoint; 'tasks' yields task starts and results."""
    from threadloom.checkpoint.memory import InMemorySaver

    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    parts = list(graph.stream({"x": 0}, config, stream_mode=["checkpoints", "tasks"]))
    checkpoints = [p for mode, p in parts if mode == "checkpoints"]
    assert [c["next"] for c in checkpoints] == [["a"], []]
    assert checkpoints[-1]["values"] == {"x": 0, "log": ["a"]}
    tasks = [p for mode, p in parts if mode == "tasks"]
    assert [("input" in t, "result" in t) for t in tasks] == [(True, False), (False, True)]


def test_messages_mode_does_not_repeat_input_messages_a_subgraph_returns() -> None:
    """Messages a subgraph hands back unchanged from its input are not streamed again."""
    inner = StateGraph(MessagesState)
    inner.add_node("reply", lambda s: {"messages": [AIMessage("inner reply")]})
    inner.add_edge(START, "reply")
    outer = StateGraph(MessagesState)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    parts = list(outer.compile().stream({"messages": ["question"]}, stream_mode="messages"))
    assert [m.content for m, _ in parts] == ["inner reply"]
