"""StateGraph: building a graph, and the build/compile-time errors that name the culprit."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Literal

import pytest
from langchain_core.runnables import RunnableLambda
from typing_extensions import TypedDict

from threadloom.errors import GraphBuildError
from threadloom.graph import END, START, StateGraph
from threadloom.types import Command, RetryPolicy


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def step(name: str):
    def node(state: State) -> dict:
        return {"log": [name]}

    node.__name__ = name
    return node


def test_add_node_accepts_a_function_alone_and_names_it_after_the_function() -> None:
    """add_node(fn) names the node after the function."""
    builder = StateGraph(State)
    builder.add_node(step("alpha"))
    builder.add_edge(START, "alpha")
    assert builder.compile().invoke({"x": 0})["log"] == ["alpha"]


def test_add_sequence_chains_nodes_in_order() -> None:
    """add_sequence adds the nodes and the edges between them."""
    builder = StateGraph(State)
    builder.add_sequence([step("a"), ("b", step("b")), step("c")])
    builder.add_edge(START, "a")
    assert builder.compile().invoke({"x": 0})["log"] == ["a", "b", "c"]


def test_entry_and_finish_points() -> None:
    """set_entry_point and set_finish_point are edges from START and to END."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.set_entry_point("a")
    builder.set_finish_point("a")
    assert builder.compile().invoke({"x": 0})["log"] == ["a"]


def test_conditional_edges_route_through_path_map() -> None:
    """A conditional edge's return value is mapped to a node by path_map."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_node("big", step("big"))
    builder.add_node("small", step("small"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: s["x"] > 5, {True: "big", False: "small"})
    graph = builder.compile()
    assert graph.invoke({"x": 9})["log"] == ["a", "big"]
    assert graph.invoke({"x": 1})["log"] == ["a", "small"]


def test_conditional_edge_may_return_a_list_or_end() -> None:
    """A path returning a list fans out; returning END stops."""
    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: ["b", "c"] if s["x"] else END)
    graph = builder.compile()
    assert sorted(graph.invoke({"x": 1})["log"]) == ["a", "b", "c"]
    assert graph.invoke({"x": 0})["log"] == ["a"]


def test_literal_return_annotation_serves_as_path_map() -> None:
    """A path annotated -> Literal[...] has its destinations checked at compile time."""

    def route(state: State) -> Literal["b", "nowhere"]:
        return "b"

    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_node("b", step("b"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", route)
    with pytest.raises(GraphBuildError, match="'nowhere'"):
        builder.compile()


def test_edge_to_unknown_node_is_a_build_error_naming_it() -> None:
    """An edge to a node that does not exist fails compile() and names the node."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_edge(START, "a")
    builder.add_edge("a", "ghost")
    with pytest.raises(GraphBuildError, match="'ghost'"):
        builder.compile()


def test_edge_from_unknown_node_is_a_build_error_naming_it() -> None:
    """An edge from a node that does not exist fails compile() and names the node."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_edge(START, "a")
    builder.add_edge("ghost", "a")
    with pytest.raises(GraphBuildError, match="'ghost'"):
        builder.compile()


def test_missing_entry_point_is_a_build_error() -> None:
    """A graph without an edge from START cannot compile."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    with pytest.raises(GraphBuildError, match="Graph must have an entrypoint"):
        builder.compile()


def test_duplicate_node_name_is_a_build_error_naming_it() -> None:
    """Adding two nodes with one name fails at add_node."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    with pytest.raises(GraphBuildError, match="Node `a` already present"):
        builder.add_node("a", step("a"))


@pytest.mark.parametrize("name", [START, END, "a|b", "a:b", "__interrupt__"])
def test_reserved_node_names_are_rejected(name: str) -> None:
    """Reserved names and separator characters cannot name a node."""
    with pytest.raises(GraphBuildError, match="reserved"):
        StateGraph(State).add_node(name, step("a"))


def test_nodes_without_a_name_are_named_as_in_langgraph() -> None:
    """add_node(fn) takes a lambda's ``<lambda>``, a callable object's class name."""

    class Greeter:
        def __call__(self, state: State) -> dict:
            return {}

    builder = StateGraph(State).add_node(lambda s: {}).add_node(Greeter())
    assert list(builder.nodes) == ["<lambda>", "Greeter"]
    with pytest.raises(GraphBuildError, match="Node `<lambda>` already present"):
        builder.add_node(lambda s: {})


def test_edges_with_end_as_source_or_start_as_target_are_rejected() -> None:
    """END cannot start an edge and START cannot end one."""
    builder = StateGraph(State)
    with pytest.raises(GraphBuildError, match="END"):
        builder.add_edge(END, "a")
    with pytest.raises(GraphBuildError, match="START"):
        builder.add_edge("a", START)


def test_interrupt_on_unknown_node_is_a_build_error() -> None:
    """interrupt_before naming an unknown node fails compile() and names it."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_edge(START, "a")
    with pytest.raises(GraphBuildError, match="Interrupt node `zzz` not found"):
        builder.compile(interrupt_before=["zzz"])


def test_bad_retry_policy_is_rejected() -> None:
    """retry_policy must be a RetryPolicy."""
    with pytest.raises(GraphBuildError, match="RetryPolicy"):
        StateGraph(State).add_node("a", step("a"), retry_policy=3)
    StateGraph(State).add_node("a", step("a"), retry_policy=RetryPolicy())


def test_state_schema_must_be_a_class_with_keys() -> None:
    """A state schema that is not a TypedDict, dataclass or model is a build error."""
    with pytest.raises(GraphBuildError, match="state schema"):
        StateGraph(42)


def test_get_graph_draws_nodes_and_edges_as_mermaid() -> None:
    """get_graph().draw_mermaid() shows every node and a conditional edge's destinations."""
    builder = StateGraph(State)
    builder.add_node("a", step("a"))
    builder.add_node("b", step("b"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", lambda s: "b", {"go": "b", "stop": END})
    text = builder.compile().get_graph().draw_mermaid()
    for name in ("__start__", "a", "b", "__end__"):
        assert name in text


def test_get_graph_draws_the_command_destinations_a_node_declares() -> None:
    """Command[Literal[...]] return annotations and destinations= become conditional edges."""

    def router(state: State) -> Command[Literal["left", "right"]]:
        return Command(goto="left")

    def finisher(state: State) -> Command[Literal["__end__"]] | None:
        return None

    builder = StateGraph(State)
    builder.add_node("router", router)
    builder.add_node("left", finisher)
    builder.add_node("right", step("right"), destinations={"left": "retry"})
    builder.add_edge(START, "router")
    graph = builder.compile().get_graph()
    edges = {(e.source, e.target): (e.conditional, e.data) for e in graph.edges}
    assert edges[("router", "left")] == (True, None)
    assert edges[("router", "right")] == (True, None)
    assert edges[("left", "__end__")] == (True, None)
    assert edges[("right", "left")] == (True, "retry")
    assert "router -.-> left" in graph.draw_mermaid()


def test_a_nodes_runnable_exposes_the_function_it_runs() -> None:
    """``builder.nodes[name].runnable`` is a runnable: ``func`` is a sync node's function
    (a callable object as given), ``afunc`` an async one's; a runnable node is itself."""

    class Counter:
        calls = 0

        def __call__(self, state: State) -> dict:
            self.calls += 1
            return {"log": ["counted"]}

    async def later(state: State) -> dict:
        return {"log": ["later"]}

    chain = RunnableLambda(step("chain"))
    counter = Counter()
    builder = StateGraph(State)
    builder.add_node("count", counter)
    builder.add_node("later", later)
    builder.add_node("chain", chain)
    builder.add_edge(START, "count")
    builder.compile().invoke({"x": 0})
    runnable = builder.nodes["count"].runnable
    assert runnable.func is counter and runnable.func.calls == 1
    assert runnable.afunc is None and runnable.name == "count"
    assert runnable.invoke({"x": 0, "log": []}) == {"log": ["counted"]}
    assert builder.nodes["later"].runnable.func is None
    assert builder.nodes["later"].runnable.afunc is later
    assert asyncio.run(builder.nodes["later"].runnable.ainvoke({"x": 0})) == {"log": ["later"]}
    assert builder.nodes["chain"].runnable is chain
