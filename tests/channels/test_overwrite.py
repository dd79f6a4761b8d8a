"""``Overwrite``: a write that replaces a reducer key's value instead of folding into it."""

from __future__ import annotations

import contextlib
import operator
from pathlib import Path
from typing import Annotated

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from typing_extensions import TypedDict

from threadloom.channels import BinaryOperatorAggregate, MessagesChannel
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import InvalidUpdateError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Overwrite


class Items(TypedDict):
    items: Annotated[list, operator.add]


SPELLINGS = [
    pytest.param(Overwrite, id="Overwrite"),
    pytest.param(lambda v: {"__overwrite__": v}, id="json"),
    pytest.param(lambda v: {"type": "__overwrite__", "value": v}, id="json-roundtrip"),
]


@pytest.mark.parametrize("spell", SPELLINGS)
def test_an_overwrite_replaces_the_folded_value(spell) -> None:
    """Every spelling of an overwrite sets the value; the step's other writes are discarded."""
    channel = BinaryOperatorAggregate(list, operator.add, key="items")
    channel.update([["a"]])
    assert channel.update([["b"], spell(["fresh"]), ["c"]])
    assert channel.get() == ["fresh"]
    channel.update([["d"]])  # the reducer applies again in later steps
    assert channel.get() == ["fresh", "d"]


def test_two_overwrites_in_one_step_are_refused_and_keep_the_value() -> None:
    """Two overwrites of one key in a step are an InvalidUpdateError; the stored value is unchanged."""
    channel = BinaryOperatorAggregate(list, operator.add, key="items")
    channel.update([["a"]])
    with pytest.raises(InvalidUpdateError, match="only one Overwrite value per super-step"):
        channel.update([Overwrite(["x"]), Overwrite(["y"])])
    assert channel.get() == ["a"]


def test_a_dict_that_only_looks_similar_is_an_ordinary_write() -> None:
    """A dict with other keys besides ``__overwrite__`` is folded like any value."""
    channel = BinaryOperatorAggregate(dict, operator.or_, key="d")
    channel.update([{"__overwrite__": 1, "k": 2}])
    assert channel.get() == {"__overwrite__": 1, "k": 2}


def test_an_overwrite_replaces_the_message_list() -> None:
    """The messages channel takes an overwrite as its whole new list."""
    channel = MessagesChannel("messages")
    channel.update([[HumanMessage("old", id="1")]])
    channel.update([Overwrite([AIMessage("new", id="2")])])
    assert [m.id for m in channel.get()] == ["2"]


async def test_a_node_overwrites_what_earlier_nodes_accumulated(client: GraphClient) -> None:
    """A later node's Overwrite replaces the list built by the input and earlier nodes."""
    builder = StateGraph(Items)
    builder.add_node("a", lambda s: {"items": ["a"]})
    builder.add_node("b", lambda s: {"items": Overwrite(["b"])})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    assert await client.invoke(builder.compile(), {"items": ["start"]}) == {"items": ["b"]}


async def test_parallel_writes_beside_an_overwrite_are_discarded(client: GraphClient) -> None:
    """In the step of the overwrite, the other nodes' writes to the key do not apply."""
    builder = StateGraph(Items)
    builder.add_node("a", lambda s: {"items": ["a"]})
    builder.add_node("b", lambda s: {"items": Overwrite(["b"])})
    builder.add_node("c", lambda s: {"items": ["c"]})
    builder.add_node("d", lambda s: {"items": ["d"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    builder.add_edge(["b", "c"], "d")
    assert await client.invoke(builder.compile(), {"items": []}) == {"items": ["b", "d"]}


async def test_parallel_overwrites_fail_the_run(client: GraphClient) -> None:
    """Two nodes overwriting one key in the same step fail with LangGraph's message."""
    builder = StateGraph(Items)
    builder.add_node("b", lambda s: {"items": Overwrite(["b"])})
    builder.add_node("c", lambda s: {"items": {"__overwrite__": ["c"]}})
    builder.add_edge(START, "b")
    builder.add_edge(START, "c")
    with pytest.raises(InvalidUpdateError, match="Can receive only one Overwrite value"):
        await client.invoke(builder.compile(), {"items": []})


def test_an_overwritten_message_history_reloads_from_a_sqlite_file(tmp_path: Path) -> None:
    """A thread whose messages were overwritten reads back the new list after a reopen."""
    builder = StateGraph(MessagesState)
    builder.add_node(
        "chat",
        lambda s: (
            {"messages": [AIMessage(f"reply {len(s['messages'])}")]}
            if len(s["messages"]) < 5
            else {"messages": Overwrite([AIMessage("summary", id="s")])}
        ),
    )
    builder.add_edge(START, "chat")
    path = str(tmp_path / "threads.db")
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        for turn in range(3):
            graph.invoke({"messages": [HumanMessage(f"turn {turn}")]}, config)
        live = graph.get_state(config).values["messages"]
    assert [m.content for m in live] == ["summary"]
    with contextlib.ExitStack() as stack:
        saver = stack.enter_context(SqliteSaver.from_conn_string(path))
        reloaded = builder.compile(checkpointer=saver).get_state(config).values["messages"]
        assert [(m.id, m.content) for m in reloaded] == [("s", "summary")]
        builder.compile(checkpointer=saver).invoke({"messages": [HumanMessage("more")]}, config)
        after = builder.compile(checkpointer=saver).get_state(config).values["messages"]
        assert [m.content for m in after][:2] == ["summary", "more"]
