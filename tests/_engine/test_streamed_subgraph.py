"""A graph streamed inside a node: the node reads its parts, and the outer stream keeps its own."""

from __future__ import annotations

import itertools
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.runnables import RunnableConfig
from typing_extensions import NotRequired, TypedDict

from threadloom.graph import START, MessagesState, StateGraph

REPLY = "The weather is sunny today."


def _chat_subgraph() -> Any:
    model = GenericFakeChatModel(messages=itertools.cycle([REPLY]))

    def call_model(state: MessagesState, config: RunnableConfig) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"], config)]}

    builder = StateGraph(MessagesState)
    builder.add_node("call_model", call_model)
    builder.add_edge(START, "call_model")
    return builder.compile()


class Outer(TypedDict):
    tokens: NotRequired[list[str]]
    updates: NotRequired[list[Any]]


def _outer(node: Any) -> Any:
    builder = StateGraph(Outer)
    builder.add_node("reader", node)
    builder.add_edge(START, "reader")
    return builder.compile()


QUESTION = {"messages": [("user", "weather?")]}


def test_a_node_reads_the_tokens_of_a_graph_it_streams() -> None:
    sub = _chat_subgraph()

    def reader(state: Outer, config: RunnableConfig) -> Outer:
        chunks = [
            chunk.content for chunk, _ in sub.stream(QUESTION, config, stream_mode="messages")
        ]
        updates = list(sub.stream(QUESTION, config, stream_mode="updates"))
        return {"tokens": chunks, "updates": [list(u) for u in updates]}

    result = _outer(reader).invoke({})
    assert "".join(result["tokens"]) == REPLY and len(result["tokens"]) > 1
    assert result["updates"] == [["call_model"]]


async def test_an_async_node_reads_the_parts_of_a_graph_it_streams() -> None:
    sub = _chat_subgraph()

    async def reader(state: Outer, config: RunnableConfig) -> Outer:
        chunks = [c.content async for c, _ in sub.astream(QUESTION, config, stream_mode="messages")]
        values = await sub.ainvoke(QUESTION, config, stream_mode="updates")
        return {"tokens": chunks, "updates": [list(u) for u in values]}

    result = await _outer(reader).ainvoke({})
    assert "".join(result["tokens"]) == REPLY
    assert result["updates"] == [["call_model"]]


def test_the_outer_stream_still_sees_the_subgraph_with_subgraphs_true() -> None:
    """The node's own reading does not take the parts away from the outer stream."""
    sub = _chat_subgraph()

    def reader(state: Outer, config: RunnableConfig) -> Outer:
        return {"updates": [list(u) for u in sub.stream(QUESTION, config, stream_mode="updates")]}

    graph = _outer(reader)
    parts = list(graph.stream({}, stream_mode="updates", subgraphs=True))
    inner = [(ns, list(update)) for ns, update in parts if ns]
    assert len(inner) == 1 and inner[0][0][0].startswith("reader:")
    assert inner[0][1] == ["call_model"]
    assert parts[-1] == ((), {"reader": {"updates": [["call_model"]]}})
    assert list(graph.stream({}, stream_mode="updates")) == [
        {"reader": {"updates": [["call_model"]]}}
    ]


def test_tokens_a_node_streams_itself_reach_the_outer_stream_only_with_subgraphs() -> None:
    """A node that streams a graph's messages reads its tokens itself; an outer ``messages``
    stream gets them (once, under the subgraph's namespace) only with ``subgraphs=True``,
    as in LangGraph."""
    sub = _chat_subgraph()

    def reader(state: Outer, config: RunnableConfig) -> Outer:
        chunks = [
            chunk.content for chunk, _ in sub.stream(QUESTION, config, stream_mode="messages")
        ]
        return {"tokens": chunks}

    graph = _outer(reader)
    assert list(graph.stream({}, stream_mode="messages")) == []
    parts = list(graph.stream({}, stream_mode="messages", subgraphs=True))
    assert "".join(chunk.content for _, (chunk, _meta) in parts) == REPLY
    assert all(ns and ns[0].startswith("reader:") for ns, _ in parts)
