"""get_graph(): the drawn nodes, edges, labels and their order, as LangGraph draws them.

Tools and LangGraph's own snapshot tests compare the mermaid text exactly, so
these tests pin the full text. The last test draws seeded random graphs with
both libraries and compares the text line for line.
"""

from __future__ import annotations

import importlib
import operator
import random
import sys
from typing import Annotated, Any, Literal, TypedDict

import pytest

from threadloom.func import entrypoint
from threadloom.graph import END, START, StateGraph
from threadloom.types import Command


class State(TypedDict):
    items: Annotated[list[str], operator.add]


def noop(state: State) -> dict[str, Any]:
    return {}


def builder_of(*names: str) -> StateGraph:
    """A builder with a do-nothing node of each name."""
    builder = StateGraph(State)
    for name in names:
        builder.add_node(name, noop)
    return builder


def mermaid(graph: Any, **kwargs: Any) -> list[str]:
    """The edge and node lines of a drawing, without the style header and footer."""
    text = graph.get_graph(**kwargs).draw_mermaid(with_styles=False)
    return [line.strip() for line in text.splitlines()[1:] if line.strip()]


# name -> (nodes, edges, conditional edges {source: path_map}, the drawn edge lines)
CASES: dict[str, tuple[list[str], list[tuple[Any, str]], dict[str, Any], list[str]]] = {
    # Plain edges are solid, branches dotted with their path_map keys, all sorted by source.
    "sorted, with branch labels": (
        ["plan", "act", "review"],
        [(START, "plan"), ("act", "review"), ("review", "plan")],
        {"plan": {"go": "act", "stop": END}},
        [
            "__start__ --> plan;",
            "act --> review;",
            "plan -. &nbsp;stop&nbsp; .-> __end__;",
            "plan -. &nbsp;go&nbsp; .-> act;",
            "review --> plan;",
        ],
    ),
    # A list path_map (a key equal to its target) draws unlabelled dotted edges.
    "branch key is its target": (
        ["agent", "tools"],
        [(START, "agent"), ("tools", "agent")],
        {"agent": ["tools", END]},
        ["__start__ --> agent;", "agent -.-> __end__;", "agent -.-> tools;", "tools --> agent;"],
    ),
    # add_edge(x, END), like a node with no way out, ends at __end__ with a solid edge.
    "node leading nowhere ends": (
        ["first", "second"],
        [(START, "first"), ("first", "second"), ("second", END)],
        {},
        ["__start__ --> first;", "first --> second;", "second --> __end__;"],
    ),
    # With no node leading nowhere, the last step's one node gets a dotted edge to END.
    "loop ends at its last step": (
        ["human", "agent"],
        [(START, "human"), ("human", "agent"), ("agent", "human")],
        {},
        ["__start__ --> human;", "agent --> human;", "human --> agent;", "agent -.-> __end__;"],
    ),
    # A waiting edge is drawn from each of its sources.
    "waiting edge": (
        ["split", "left", "right", "join"],
        [(START, "split"), ("split", "left"), ("split", "right"), (["left", "right"], "join")],
        {},
        [
            "__start__ --> split;",
            "left --> join;",
            "right --> join;",
            "split --> left;",
            "split --> right;",
            "join --> __end__;",
        ],
    ),
}


@pytest.mark.parametrize(("nodes", "edges", "branches", "expected"), CASES.values(), ids=CASES)
def test_drawn_edges(
    nodes: list[str],
    edges: list[tuple[Any, str]],
    branches: dict[str, Any],
    expected: list[str],
) -> None:
    builder = builder_of(*nodes)
    for source, target in edges:
        builder.add_edge(source, target)
    for source, path_map in branches.items():
        builder.add_conditional_edges(source, lambda s: [], path_map)
    assert mermaid(builder.compile()) == expected


def test_nodes_are_listed_in_the_order_they_were_added() -> None:
    builder = builder_of("zeta", "alpha", "mid")
    builder.add_edge(START, "zeta")
    builder.add_edge("zeta", "alpha")
    builder.add_edge("alpha", "mid")
    drawn = builder.compile().get_graph()
    assert list(drawn.nodes) == ["__start__", "zeta", "alpha", "mid", "__end__"]


def test_a_deferred_node_is_drawn_from_the_step_before_it_runs() -> None:
    """A deferred node runs after the longer branch: a dotted edge from that branch's end."""
    builder = builder_of("split", "short", "long", "longer")
    builder.add_node("join", noop, defer=True)
    builder.add_edge(START, "split")
    builder.add_edge("split", "short")
    builder.add_edge("split", "long")
    builder.add_edge("long", "longer")
    builder.add_edge("short", "join")
    drawn = builder.compile().get_graph()
    assert drawn.nodes["join"].metadata == {"defer": True}
    assert mermaid(builder.compile()) == [
        "__start__ --> split;",
        "long --> longer;",
        "longer -.-> join;",
        "short --> join;",
        "split --> long;",
        "split --> short;",
        "join --> __end__;",
    ]


def test_command_destinations_are_dotted_edges() -> None:
    """Command[Literal[...]] annotations and destinations= (with labels) become dotted edges."""

    def router(state: State) -> Command[Literal["left", "right", "__end__"]]:
        return Command(goto="left")

    builder = StateGraph(State)
    builder.add_node("router", router)
    builder.add_node("left", noop)
    builder.add_node("right", noop, destinations={"left": "retry"})
    builder.add_edge(START, "router")
    assert mermaid(builder.compile()) == [
        "__start__ --> router;",
        "right -. &nbsp;retry&nbsp; .-> left;",
        "router -.-> __end__;",
        "router -.-> left;",
        "router -.-> right;",
        "left --> __end__;",
    ]


def test_error_handler_nodes_are_listed_before_the_node_they_serve() -> None:
    def handle(state: State, error: Exception) -> dict[str, Any]:
        return {}

    builder = StateGraph(State)
    builder.add_node("work", noop, error_handler=handle)
    builder.add_node("next", noop)
    builder.add_edge(START, "work")
    builder.add_edge("work", "next")
    builder.set_node_defaults(error_handler=handle)
    drawn = builder.compile().get_graph()
    assert list(drawn.nodes) == [
        "__start__",
        "__error_handler__work",
        "work",
        "next",
        "__default_error_handler__",
        "__end__",
    ]
    assert [(e.source, e.target) for e in drawn.edges] == [
        ("__start__", "work"),
        ("work", "next"),
        ("next", "__end__"),
    ]


def test_interrupts_show_in_node_metadata() -> None:
    builder = StateGraph(State)
    builder.add_node("ask", noop, metadata={"team": "ops"})
    builder.add_node("act", noop)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "act")
    graph = builder.compile(interrupt_before=["ask", "act"], interrupt_after=["act"]).get_graph()
    assert graph.nodes["ask"].metadata == {"team": "ops", "__interrupt": "before"}
    assert graph.nodes["act"].metadata == {"__interrupt": "before,after"}
    assert graph.nodes["__start__"].metadata is None


def _nested() -> Any:
    deepest = StateGraph(State)
    deepest.add_node("deep", noop)
    deepest.add_edge(START, "deep")
    inner = StateGraph(State)
    inner.add_node("up", noop)
    inner.add_node("mid", deepest.compile())
    inner.add_edge(START, "up")
    inner.add_edge("up", "mid")
    compiled_inner = inner.compile()

    def calls_inner(state: State) -> Any:
        # A node function that runs a subgraph is found through the names it uses.
        return compiled_inner.invoke(state)

    outer = StateGraph(State)
    outer.add_node("sub", calls_inner)
    outer.add_node("after", noop)
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    return outer.compile()


def test_xray_draws_subgraph_nodes_in_place_of_their_node() -> None:
    graph = _nested()
    assert list(graph.get_graph().nodes) == ["__start__", "sub", "after", "__end__"]
    one_level = graph.get_graph(xray=1)
    assert list(one_level.nodes) == ["__start__", "after", "__end__", "sub:up", "sub:mid"]
    assert [(e.source, e.target) for e in one_level.edges] == [
        ("__start__", "sub:up"),
        ("sub:mid", "after"),
        ("after", "__end__"),
        ("sub:up", "sub:mid"),
    ]
    every_level = graph.get_graph(xray=True)
    assert "sub:mid:deep" in every_level.nodes
    assert "subgraph sub" in every_level.draw_mermaid()


def test_an_entrypoint_draws_as_one_node_and_inlines_under_xray() -> None:
    @entrypoint()
    def inner(state: dict[str, Any]) -> dict[str, Any]:
        return {}

    assert mermaid(inner) == ["__start__ --> inner;", "inner -.-> __end__;"]
    builder = builder_of("after")
    builder.add_node("flow", inner)
    builder.add_edge(START, "flow")
    builder.add_edge("flow", "after")
    assert mermaid(builder.compile(), xray=True) == [
        "__start__ --> flow\\3ainner;",
        "flow\\3ainner --> after;",
        "after --> __end__;",
    ]
    assert "subgraph flow" in builder.compile().get_graph(xray=True).draw_mermaid()


async def test_aget_graph_draws_the_same() -> None:
    graph = _nested()
    drawn = await graph.aget_graph(xray=True)
    assert drawn.draw_mermaid() == graph.get_graph(xray=True).draw_mermaid()


def test_draw_ascii_and_to_json() -> None:
    """The ASCII drawing (needs grandalf) and the JSON form list the same nodes and edges."""
    builder = builder_of("only")
    builder.add_edge(START, "only")
    drawn = builder.compile().get_graph()
    assert "| only |" in drawn.draw_ascii()
    assert drawn.to_json() == {
        "nodes": [{"id": "__start__"}, {"id": "only"}, {"id": "__end__"}],
        "edges": [
            {"source": "__start__", "target": "only"},
            {"source": "only", "target": "__end__"},
        ],
    }


# --- the same text as LangGraph, on random graphs ----------------------------------------


def _random_graph(rng: random.Random) -> dict[str, Any]:
    names = [f"n{i}" for i in range(rng.randint(1, 6))]
    ends = [*names, END]
    nodes = []
    for name in names:
        destinations: Any = None
        if rng.random() < 0.2:
            chosen = rng.sample(ends, rng.randint(1, 2))
            destinations = {c: f"to_{c}" for c in chosen} if rng.random() < 0.5 else tuple(chosen)
        nodes.append((name, rng.random() < 0.15, destinations))
    edges = [(START, rng.choice(names))]
    edges += [(rng.choice(names), rng.choice(ends)) for _ in range(rng.randint(0, len(names) + 2))]
    waits = [(tuple(rng.sample(names, 2)), rng.choice(names))] if len(names) > 2 else []
    branches = []
    for _ in range(rng.randint(0, 2)):
        targets = rng.sample(ends, rng.randint(1, min(3, len(ends))))
        path_map: Any = (
            {f"k{i}": t for i, t in enumerate(targets)} if rng.random() < 0.6 else targets
        )
        branches.append((rng.choice(names), None if rng.random() < 0.15 else path_map))
    return {"nodes": nodes, "edges": edges, "waits": waits, "branches": branches}


def _build(package: str, shape: dict[str, Any]) -> Any:
    graph_module = importlib.import_module(f"{package}.graph")
    builder = graph_module.StateGraph(State)
    for name, defer, destinations in shape["nodes"]:
        builder.add_node(name, noop, defer=defer, destinations=destinations)
    for source, target in shape["edges"]:
        builder.add_edge(source, target)
    for sources, target in shape["waits"]:
        builder.add_edge(list(sources), target)
    for i, (source, path_map) in enumerate(shape["branches"]):

        def route(state: State) -> list[str]:
            return []

        route.__name__ = f"route_{i}"
        builder.add_conditional_edges(source, route, path_map)
    return builder.compile()


def test_random_graphs_draw_as_langgraph_draws_them() -> None:
    pytest.importorskip("langgraph.graph", reason="LangGraph (a test dependency) is the reference")
    rng = random.Random(11)
    compared = 0
    for _ in range(150):
        shape = _random_graph(rng)
        try:
            expected = _build("langgraph", shape).get_graph().draw_mermaid()
        except TypeError:  # LangGraph cannot order a None label against a text one
            continue
        assert _build("threadloom", shape).get_graph().draw_mermaid() == expected, shape
        compared += 1
    assert compared > 120


def test_draw_ascii_without_grandalf_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    builder = builder_of("only")
    builder.add_edge(START, "only")
    monkeypatch.setitem(sys.modules, "grandalf", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"threadloom\[draw\]"):
        builder.compile().get_graph().draw_ascii()
