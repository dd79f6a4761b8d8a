"""``RunControl``: a run asked to drain stops between steps, saved and resumable."""

from __future__ import annotations

import asyncio
import pickle
import threading
from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import GraphBubbleUp, GraphDrained, ThreadloomError
from threadloom.graph import END, START, StateGraph
from threadloom.runtime import RunControl, Runtime


class State(TypedDict, total=False):
    first: str
    second: str
    child: str


def _two_steps(first: Any, ran: list[str] | None = None, **compile: Any) -> Any:
    """``first`` then ``second``; ``second`` records that it ran in ``ran``."""

    def second(state: State) -> State:
        if ran is not None:
            ran.append("second")
        return {"second": "done"}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(**compile)


def test_a_drain_lets_the_step_finish_and_stops_before_the_next() -> None:
    control = RunControl()
    ran: list[str] = []

    def first(state: State) -> State:
        control.request_drain("sigterm")
        return {"first": "done"}

    graph = _two_steps(first, ran, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(GraphDrained, match="sigterm") as info:
        graph.invoke({}, config, control=control)
    assert info.value.reason == "sigterm"
    assert ran == []
    state = graph.get_state(config)
    assert state.values == {"first": "done"}
    assert state.next == ("second",)
    assert graph.invoke(None, config) == {"first": "done", "second": "done"}


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_a_drained_async_run_resumes_under_every_durability(durability: str) -> None:
    """Even ``durability="exit"``, which saves only at the end, leaves the thread resumable."""
    control = RunControl()

    async def first(state: State) -> State:
        control.request_drain()
        return {"first": "done"}

    graph = _two_steps(first, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(GraphDrained, match="shutdown"):
        await graph.ainvoke({}, config, durability=durability, control=control)
    assert await graph.ainvoke(None, config, durability=durability) == {
        "first": "done",
        "second": "done",
    }


def test_a_drain_in_the_last_step_lets_the_run_finish() -> None:
    control = RunControl()

    def only(state: State) -> State:
        control.request_drain()
        return {"first": "done"}

    builder = StateGraph(State)
    builder.add_node("only", only)
    builder.add_edge(START, "only")
    assert builder.compile().invoke({}, control=control) == {"first": "done"}
    assert control.drain_requested


def test_a_drain_inside_a_subgraph_stops_the_parent_and_both_resume() -> None:
    control = RunControl()

    def child_first(state: State) -> State:
        control.request_drain("sigterm")
        return {"child": "first"}

    child = StateGraph(State)
    child.add_node("child_first", child_first)
    child.add_node("child_second", lambda s: {"child": s["child"] + "+second"})
    child.add_edge(START, "child_first")
    child.add_edge("child_first", "child_second")
    parent = StateGraph(State)
    parent.add_node("sub", child.compile(checkpointer=True))
    parent.add_node("after", lambda s: {"second": "done"})
    parent.add_edge(START, "sub")
    parent.add_edge("sub", "after")
    graph = parent.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(GraphDrained, match="sigterm"):
        graph.invoke({}, config, control=control)
    state = graph.get_state(config)
    assert state.next == ("sub",)
    assert [task.error for task in state.tasks] == [None]  # a drain is not a failure
    assert graph.invoke(None, config) == {"child": "first+second", "second": "done"}


def test_another_thread_can_drain_a_running_graph() -> None:
    control = RunControl()
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def first(state: State) -> State:
        started.set()
        release.wait(5)
        return {"first": "done"}

    graph = _two_steps(first, ran)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            graph.invoke({}, control=control)
        except GraphDrained as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert started.wait(5)
    control.request_drain("sigterm")
    release.set()
    worker.join(5)
    assert [type(e) for e in outcome] == [GraphDrained] and ran == []


async def test_nodes_see_the_control_in_their_runtime() -> None:
    control = RunControl()
    seen: list[Any] = []

    async def first(state: State, runtime: Runtime[Any]) -> State:
        seen.append(runtime.control)
        return {"first": "done"}

    await _two_steps(first).ainvoke({}, control=control)
    await _two_steps(first).ainvoke({})
    assert seen == [control, None]


def test_run_control_and_its_error() -> None:
    """A fresh control has no drain; GraphDrained is control flow, not a failure."""
    control = RunControl()
    assert (control.drain_requested, control.drain_reason) == (False, None)
    control.request_drain()
    assert (control.drain_requested, control.drain_reason) == (True, "shutdown")
    assert issubclass(GraphDrained, GraphBubbleUp)
    assert not issubclass(GraphDrained, ThreadloomError)
    copy = pickle.loads(pickle.dumps(GraphDrained("sigterm")))
    assert (copy.reason, str(copy)) == ("sigterm", "Graph drained: sigterm")
    assert Runtime(control=control).merge(Runtime()).control is control


def test_control_must_be_a_run_control() -> None:
    from threadloom.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="control must be"):
        _two_steps(lambda s: {"first": "x"}).invoke({}, control=asyncio.Event())
