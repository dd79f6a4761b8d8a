"""A task that writes one state key several times: every write applies, in order, and
``updates`` shows one dict per write (LangGraph's payload); the writes of several
commands to distinct keys show as one dict."""

from __future__ import annotations

from typing import Annotated, Any

from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command


def _joined(left: str, right: str) -> str:
    return "|".join(x for x in (left, right) if x)


class State(TypedDict):
    text: Annotated[str, _joined]
    other: str


def _graph(node: Any) -> Any:
    return (
        StateGraph(State)
        .add_node("node", node)
        .add_edge(START, "node")
        .compile(checkpointer=InMemorySaver())
    )


async def test_a_command_with_a_list_of_writes_applies_each_write(client: GraphClient) -> None:
    graph = _graph(lambda s: Command(update=[("text", "a"), ("text", "b"), ("other", "o")]))
    config = {"configurable": {"thread_id": "1"}}
    parts = await client.stream(graph, {"text": "in"}, config, stream_mode=["updates", "tasks"])
    updates = [p for mode, p in parts if mode == "updates"]
    assert updates == [{"node": [{"text": "a"}, {"text": "b"}, {"other": "o"}]}]
    results = [p["result"] for mode, p in parts if mode == "tasks" and "result" in p]
    assert results == [{"text": {"$writes": ["a", "b"]}, "other": "o"}]
    assert (await client.get_state(graph, config)).values == {"text": "in|a|b", "other": "o"}


async def test_commands_writing_one_key_twice_show_one_dict_per_write(
    client: GraphClient,
) -> None:
    graph = _graph(lambda s: [Command(update={"text": "a"}), {"text": "b"}])
    parts = await client.stream(
        graph, {"text": "in"}, {"configurable": {"thread_id": "2"}}, stream_mode="updates"
    )
    assert parts == [{"node": [{"text": "a"}, {"text": "b"}]}]


async def test_commands_writing_distinct_keys_show_as_one_update(client: GraphClient) -> None:
    graph = _graph(lambda s: [Command(update={"text": "a"}), Command(update={"other": "o"})])
    parts = await client.stream(
        graph, {"text": "in"}, {"configurable": {"thread_id": "3"}}, stream_mode="updates"
    )
    assert parts == [{"node": {"text": "a", "other": "o"}}]


async def test_a_dict_update_shows_as_returned(client: GraphClient) -> None:
    graph = _graph(lambda s: {"text": "a", "other": "o"})
    parts = await client.stream(
        graph, {"text": "in"}, {"configurable": {"thread_id": "4"}}, stream_mode="updates"
    )
    assert parts == [{"node": {"text": "a", "other": "o"}}]
