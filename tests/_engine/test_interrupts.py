"""interrupt() and Command(resume=...), and static interrupts before/after nodes."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import InvalidResumeError, ThreadloomError
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, Interrupt, interrupt


class State(TypedDict):
    name: str
    age: int


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def cfg(thread: str = "t") -> dict:
    return {"configurable": {"thread_id": thread}}


def ask_graph():
    def ask(state: State) -> dict:
        name = interrupt("name?")
        age = interrupt("age?")
        return {"name": name, "age": age}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=InMemorySaver())


async def test_interrupt_pauses_and_reports_the_value(client: GraphClient) -> None:
    """The first interrupt() stops the run; invoke returns the state with __interrupt__."""
    out = await client.invoke(ask_graph(), {"name": "", "age": 0}, cfg())
    assert out["__interrupt__"][0].value == "name?"
    assert isinstance(out["__interrupt__"][0], Interrupt)


async def test_resume_answers_interrupts_one_at_a_time(client: GraphClient) -> None:
    """Each Command(resume=v) answers the next interrupt; earlier answers are replayed."""
    graph = ask_graph()
    await client.invoke(graph, {"name": "", "age": 0}, cfg())
    second = await client.invoke(graph, Command(resume="Ann"), cfg())
    assert second["__interrupt__"][0].value == "age?"
    assert await client.invoke(graph, Command(resume=7), cfg()) == {"name": "Ann", "age": 7}


async def test_get_state_shows_the_pending_interrupt_and_next_node(client: GraphClient) -> None:
    """While paused, get_state lists the interrupt and the node that will resume."""
    graph = ask_graph()
    await client.invoke(graph, {"name": "", "age": 0}, cfg())
    snap = await client.get_state(graph, cfg())
    assert snap.next == ("ask",)
    assert [i.value for i in snap.interrupts] == ["name?"]
    assert snap.tasks[0].interrupts[0].value == "name?"


async def test_resume_by_interrupt_id(client: GraphClient) -> None:
    """Command(resume={interrupt_id: value}) answers that interrupt."""
    graph = ask_graph()
    first = (await client.invoke(graph, {"name": "", "age": 0}, cfg()))["__interrupt__"][0]
    out = await client.invoke(graph, Command(resume={first.id: "Bo"}), cfg())
    assert out["__interrupt__"][0].value == "age?"
    assert (await client.get_state(graph, cfg())).values["name"] == ""


async def test_resume_without_a_pending_interrupt_is_a_clear_error(client: GraphClient) -> None:
    """Command(resume=...) on a thread with nothing to resume raises InvalidResumeError."""
    graph = ask_graph()
    with pytest.raises(InvalidResumeError, match="no pending interrupt"):
        await client.invoke(graph, Command(resume="x"), cfg("fresh"))
    await client.invoke(graph, {"name": "", "age": 0}, cfg())
    await client.invoke(graph, Command(resume="A"), cfg())
    await client.invoke(graph, Command(resume=1), cfg())
    with pytest.raises(ValueError):
        await client.invoke(graph, Command(resume="again"), cfg())


async def test_interrupts_are_streamed_as_updates(client: GraphClient) -> None:
    """In updates mode an interrupt arrives as {'__interrupt__': (Interrupt, ...)}."""
    parts = await client.stream(ask_graph(), {"name": "", "age": 0}, cfg(), stream_mode="updates")
    assert parts[-1]["__interrupt__"][0].value == "name?"


async def test_static_interrupt_before_and_after_pause_around_nodes(client: GraphClient) -> None:
    """interrupt_before stops before the node; interrupt_after right after it; None resumes."""
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"age": 1})
    builder.add_node("b", lambda s: {"age": s["age"] + 1})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    assert (await client.invoke(graph, {"name": "", "age": 0}, cfg()))["age"] == 1
    assert (await client.get_state(graph, cfg())).next == ("b",)
    assert (await client.invoke(graph, None, cfg()))["age"] == 2
    after = builder.compile(checkpointer=InMemorySaver(), interrupt_after=["a"])
    await client.invoke(after, {"name": "", "age": 0}, cfg())
    assert (await client.get_state(after, cfg())).next == ("b",)
    assert (await client.invoke(after, None, cfg()))["age"] == 2


def test_interrupt_outside_a_node_is_an_error() -> None:
    """interrupt() called outside a running node raises RuntimeError."""
    with pytest.raises(RuntimeError, match="interrupt"):
        interrupt("x")


async def test_invoke_time_interrupt_on_unknown_node_is_an_error_naming_it(
    client: GraphClient,
) -> None:
    """interrupt_before passed to invoke() must name existing nodes."""
    from threadloom.errors import GraphBuildError

    with pytest.raises(GraphBuildError, match="'nope'"):
        await client.invoke(ask_graph(), {"name": "", "age": 0}, cfg(), interrupt_before=["nope"])


async def test_a_broad_threadloom_error_handler_in_a_node_does_not_swallow_interrupt(
    client: GraphClient,
) -> None:
    """interrupt() inside ``try/except ThreadloomError`` still pauses the run and resumes."""

    def ask(state: State) -> dict:
        try:
            name = interrupt("name?")
        except ThreadloomError:
            return {"name": "swallowed"}
        return {"name": name}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    paused = await client.invoke(graph, {"name": "", "age": 0}, cfg())
    assert paused["__interrupt__"][0].value == "name?"
    assert await client.invoke(graph, Command(resume="Di"), cfg()) == {"name": "Di", "age": 0}


async def test_a_resume_without_interrupt_names_the_thread_as_an_attribute(
    client: GraphClient,
) -> None:
    """InvalidResumeError.thread_id is the thread the resume was sent to."""
    with pytest.raises(InvalidResumeError) as info:
        await client.invoke(ask_graph(), Command(resume="x"), cfg("quiet"))
    assert info.value.thread_id == "quiet"


async def test_a_resume_at_a_static_breakpoint_continues_the_run(client: GraphClient) -> None:
    """A thread stopped by ``interrupt_before`` has work pending: ``Command(resume=...)``
    continues it as ``None`` would, and the value answers an ``interrupt()`` met next."""
    calls: list[str] = []

    def first(state: State) -> dict:
        calls.append("first")
        return {"name": state["name"] + "|first"}

    def second(state: State) -> dict:
        return {"name": state["name"] + "|" + interrupt("who?")}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    graph = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["first"])
    await client.invoke(graph, {"name": "x", "age": 0}, cfg())
    assert calls == []
    out = await client.invoke(graph, Command(resume="unused"), cfg())
    assert calls == ["first"] and [i.value for i in out["__interrupt__"]] == ["who?"]
    assert await client.invoke(graph, Command(resume="Al"), cfg()) == {"name": "x|first|Al", "age": 0}


async def test_a_command_at_a_static_breakpoint_joins_the_waiting_step(client: GraphClient) -> None:
    """``Command(goto=...)`` to a thread stopped by ``interrupt_before`` adds its target to
    the step that waits there, as in LangGraph: both run, then the graph goes on."""
    builder = StateGraph(Log)
    builder.add_node("one", lambda state: {"log": ["one"]})
    builder.add_node("two", lambda state: {"log": ["two"]})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    graph = builder.compile(checkpointer=InMemorySaver(), interrupt_before=["one"])
    await client.invoke(graph, {"log": []}, cfg())
    assert (await client.invoke(graph, Command(goto=["two"]), cfg()))["log"] == ["one", "two", "two"]
