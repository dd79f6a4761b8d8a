"""A compiled graph used as a node: shared keys, interrupts inside it, commands to the parent."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import ParentCommand
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, interrupt


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


class Inner(TypedDict):
    x: int
    private: str


def cfg(thread: str = "t") -> dict:
    return {"configurable": {"thread_id": thread}}


async def test_subgraph_node_shares_keys_with_its_parent(client: GraphClient) -> None:
    """The subgraph receives the parent state; only keys the parent has flow back."""
    inner = StateGraph(Inner)
    inner.add_node("work", lambda s: {"x": s["x"] * 10, "private": "hidden"})
    inner.add_edge(START, "work")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: {"log": [f"x={s['x']}"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    assert await client.invoke(outer.compile(), {"x": 2}) == {"x": 20, "log": ["x=20"]}


async def test_interrupt_inside_a_subgraph_pauses_and_resumes_the_parent(
    client: GraphClient,
) -> None:
    """An interrupt in a subgraph surfaces from the parent; Command(resume) continues inside."""
    inner = StateGraph(Inner)
    inner.add_node("ask", lambda s: {"x": interrupt("number?")})
    inner.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("after", lambda s: {"log": ["after"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    graph = outer.compile(checkpointer=InMemorySaver())
    paused = await client.invoke(graph, {"x": 0}, cfg())
    assert paused["__interrupt__"][0].value == "number?"
    assert await client.invoke(graph, Command(resume=42), cfg()) == {"x": 42, "log": ["after"]}


async def test_command_to_parent_routes_in_the_parent_graph(client: GraphClient) -> None:
    """Command(graph=Command.PARENT, goto=..., update=...) from a subgraph node steers the parent."""
    inner = StateGraph(State)
    inner.add_node("jump", lambda s: Command(graph=Command.PARENT, goto="target", update={"x": 7}))
    inner.add_edge(START, "jump")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("target", lambda s: {"log": ["target"]})
    outer.add_edge(START, "sub")
    assert await client.invoke(outer.compile(), {"x": 0}) == {"x": 7, "log": ["target"]}


async def test_command_to_parent_without_a_parent_leaves_the_run(client: GraphClient) -> None:
    """Command(graph=Command.PARENT) in a top-level graph raises ParentCommand carrying it (as LangGraph)."""
    builder = StateGraph(State)
    builder.add_node("jump", lambda s: Command(graph=Command.PARENT, goto="x", update={"x": 1}))
    builder.add_edge(START, "jump")
    with pytest.raises(ParentCommand) as caught:
        await client.invoke(builder.compile(), {"x": 0})
    command = caught.value.args[0]
    assert (command.goto, command.update) == ("x", {"x": 1})


async def test_static_interrupt_inside_a_subgraph_pauses_the_parent(client: GraphClient) -> None:
    """A subgraph compiled with interrupt_before stops the parent too; None resumes both."""
    inner = StateGraph(Inner)
    inner.add_node("first", lambda s: {"x": 1})
    inner.add_node("second", lambda s: {"x": s["x"] + 1})
    inner.add_edge(START, "first")
    inner.add_edge("first", "second")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile(interrupt_before=["second"]))
    outer.add_node("after", lambda s: {"log": [f"x={s['x']}"]})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "after")
    graph = outer.compile(checkpointer=InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg())
    assert (await client.get_state(graph, cfg())).next == ("sub",)
    assert await client.invoke(graph, None, cfg()) == {"x": 2, "log": ["x=2"]}


async def test_a_static_stop_two_levels_down_is_streamed_once_by_the_root(
    client: GraphClient,
) -> None:
    """With ``subgraphs=True`` the stop of a grandchild's ``interrupt_before`` shows as one
    ``{"__interrupt__": ()}`` update of the root, as in LangGraph; a dynamic interrupt also
    shows in the namespace of the graph it was raised in."""
    grandchild = StateGraph(Inner)
    grandchild.add_node("first", lambda s: {"x": 1})
    grandchild.add_node("second", lambda s: {"x": s["x"] + 1})
    grandchild.add_edge(START, "first")
    grandchild.add_edge("first", "second")
    child = StateGraph(Inner)
    child.add_node("grandchild", grandchild.compile(interrupt_before=["second"]))
    child.add_edge(START, "grandchild")
    outer = StateGraph(State)
    outer.add_node("child", child.compile())
    outer.add_edge(START, "child")
    graph = outer.compile(checkpointer=InMemorySaver())
    parts = await client.stream(graph, {"x": 0}, cfg(), subgraphs=True)
    stops = [(ns, update) for ns, update in parts if "__interrupt__" in update]
    assert stops == [((), {"__interrupt__": ()})]

    def ask(state: Inner) -> dict:
        return {"x": interrupt("number?")}

    asking = StateGraph(Inner)
    asking.add_node("ask", ask)
    asking.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("child", asking.compile())
    outer.add_edge(START, "child")
    graph = outer.compile(checkpointer=InMemorySaver())
    parts = await client.stream(graph, {"x": 0}, cfg("dyn"), subgraphs=True)
    stops = [ns for ns, update in parts if "__interrupt__" in update]
    assert [len(ns) for ns in stops] == [1, 0]


async def test_get_state_with_subgraphs_shows_the_paused_subgraphs_state(
    client: GraphClient,
) -> None:
    """get_state(subgraphs=True) puts the interrupted subgraph's snapshot in its task's state."""
    inner = StateGraph(Inner)
    inner.add_node("prep", lambda s: {"private": "ready"})
    inner.add_node("ask", lambda s: {"x": interrupt("number?")})
    inner.add_edge(START, "prep")
    inner.add_edge("prep", "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg())
    snap = await client.get_state(graph, cfg(), subgraphs=True)
    inner_snap = snap.tasks[0].state
    assert inner_snap.next == ("ask",)
    assert inner_snap.values["private"] == "ready"
    # Without subgraphs=True the task's state is the config of the subgraph's namespace.
    task = (await client.get_state(graph, cfg())).tasks[0]
    assert task.state == {"configurable": {"thread_id": "t", "checkpoint_ns": f"sub:{task.id}"}}
    assert (await client.get_state(graph, task.state)).values == inner_snap.values


class Notes(TypedDict):
    log: Annotated[list[str], operator.add]


class Turn(TypedDict):
    msg: str


def _calling_notes(checkpointer: bool | None) -> object:
    """A parent whose node invokes a notes subgraph compiled with ``checkpointer``."""
    inner = StateGraph(Notes)
    inner.add_node("note", lambda s: {"log": [f"seen {len(s['log'])}"]})
    inner.add_edge(START, "note")
    sub = inner.compile(checkpointer=checkpointer)

    def call(state: Turn) -> dict:
        out = sub.invoke({"log": [state["msg"]]})
        return {"msg": " | ".join(out["log"])}

    outer = StateGraph(Turn)
    outer.add_node("call", call)
    outer.add_edge(START, "call")
    return outer.compile(checkpointer=InMemorySaver())


async def test_subgraph_compiled_with_checkpointer_true_keeps_its_state_per_thread(
    client: GraphClient,
) -> None:
    """checkpointer=True: the subgraph's own state carries over to the next call in the same thread."""
    graph = _calling_notes(True)
    assert (await client.invoke(graph, {"msg": "a"}, cfg()))["msg"] == "a | seen 1"
    second = await client.invoke(graph, {"msg": "b"}, cfg())
    assert second["msg"] == "a | seen 1 | b | seen 3"
    other = await client.invoke(graph, {"msg": "c"}, cfg("other"))
    assert other["msg"] == "c | seen 1"


@pytest.mark.parametrize("checkpointer", [None, False])
async def test_subgraph_without_its_own_persistence_starts_fresh_each_call(
    client: GraphClient, checkpointer: bool | None
) -> None:
    """checkpointer=None (per call) and False (none at all) keep nothing between calls."""
    graph = _calling_notes(checkpointer)
    await client.invoke(graph, {"msg": "a"}, cfg())
    assert (await client.invoke(graph, {"msg": "b"}, cfg()))["msg"] == "b | seen 1"
