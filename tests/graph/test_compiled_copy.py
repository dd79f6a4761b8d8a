"""``copy(update=...)`` of a compiled graph and of its nodes."""

from __future__ import annotations

import pytest
from typing_extensions import TypedDict

from threadloom.channels import LastValue
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph
from threadloom.graph.state import CompiledStateGraph
from threadloom.pregel import NodeBuilder, Pregel


class State(TypedDict):
    foo: str


def _graph(saver: InMemorySaver | None = None) -> CompiledStateGraph:
    return (
        StateGraph(State)
        .add_node("agent", lambda s: {"foo": s["foo"] + "+agent"})
        .add_node("tool", lambda s: {"foo": s["foo"] + "+tool"})
        .add_edge(START, "agent")
        .add_edge("agent", "tool")
        .compile(checkpointer=saver)
    )


def test_copy_is_a_new_graph_of_the_same_kind_that_runs_alike() -> None:
    """The copy shares the saver and runs the same nodes, on the same threads."""
    saver = InMemorySaver()
    graph = _graph(saver)
    config = {"configurable": {"thread_id": "1"}}
    assert graph.invoke({"foo": "in"}, config) == {"foo": "in+agent+tool"}
    clone = graph.copy()
    assert type(clone) is CompiledStateGraph and clone is not graph
    assert clone.checkpointer is saver and clone.name == graph.name
    assert clone.get_state(config).values == {"foo": "in+agent+tool"}
    assert clone.invoke({"foo": "x"}, config) == {"foo": "x+agent+tool"}
    assert graph.get_state(config).values == {"foo": "x+agent+tool"}


def test_copy_replaces_the_attributes_given_and_leaves_the_original() -> None:
    graph = _graph()
    name = graph.name
    saver = InMemorySaver()
    clone = graph.copy({"checkpointer": saver, "name": "other"})
    assert (clone.checkpointer, clone.name) == (saver, "other")
    assert (graph.checkpointer, graph.name) == (None, name)
    config = {"configurable": {"thread_id": "t"}}
    clone.invoke({"foo": "a"}, config)
    assert clone.get_state(config).values == {"foo": "a+agent+tool"}


def test_copy_refuses_an_attribute_the_graph_does_not_have() -> None:
    with pytest.raises(TypeError, match="bogus"):
        _graph().copy({"bogus": 1})


def test_a_node_copy_is_a_new_node_with_the_fields_given() -> None:
    node = _graph().nodes["agent"]
    same = node.copy({})
    assert same is not node and (same.name, same.bound, same.triggers) == (
        node.name,
        node.bound,
        node.triggers,
    )
    tagged = node.copy({"metadata": {"k": 1}})
    assert tagged.metadata == {"k": 1} and node.metadata == {}
    with pytest.raises(TypeError, match="bogus"):
        node.copy({"bogus": 1})


def test_a_low_level_graph_and_its_nodes_copy() -> None:
    app = Pregel(
        nodes={"one": NodeBuilder().subscribe_only("a").do(lambda x: x * 2).write_to("b")},
        channels={"a": LastValue(int), "b": LastValue(int)},
        input_channels="a",
        output_channels="b",
    )
    clone = app.copy()
    assert type(clone) is Pregel and clone.invoke(3) == 6
    node = app.nodes["one"].copy({"triggers": ["b"]})
    assert node.triggers == ["b"] and app.nodes["one"].triggers == ["a"]
