"""Several interrupts at once: parallel tasks, resume maps, a resume with an update."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import AmbiguousResumeError, InvalidResumeError
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, Interrupt, Send, interrupt


class Fan(TypedDict):
    prompts: list[str]
    answers: Annotated[list[str], operator.add]


def cfg(thread: str = "t") -> dict:
    return {"configurable": {"thread_id": thread}}


def fan_graph(calls: list[str]):
    """One worker per prompt (Send), each asking its prompt back."""

    def worker(arg: dict) -> dict:
        calls.append(arg["prompt"])
        return {"answers": [interrupt(arg["prompt"])]}

    builder = StateGraph(Fan)
    builder.add_node("worker", worker)
    builder.add_conditional_edges(
        START, lambda s: [Send("worker", {"prompt": p}) for p in s["prompts"]], ["worker"]
    )
    return builder.compile(checkpointer=InMemorySaver())


async def test_each_parallel_interrupt_is_its_own_update(client: GraphClient) -> None:
    """Two tasks pausing in one step stream one ``__interrupt__`` update each."""
    parts = await client.stream(fan_graph([]), {"prompts": ["a", "b"]}, cfg())
    assert [[i.value for i in p["__interrupt__"]] for p in parts] == [["a"], ["b"]]


async def test_resume_one_of_two_keeps_the_answered_task_done(client: GraphClient) -> None:
    """Answering one interrupt by id finishes that task; it is not run again later."""
    calls: list[str] = []
    graph = fan_graph(calls)
    first = await client.invoke(graph, {"prompts": ["a", "b"]}, cfg())
    ids = {i.value: i.id for i in first["__interrupt__"]}
    parts = await client.stream(graph, Command(resume={ids["a"]: "A"}), cfg())
    assert {"worker": {"answers": ["A"]}} in parts
    assert [i.value for p in parts if "__interrupt__" in p for i in p["__interrupt__"]] == ["b"]
    snap = await client.get_state(graph, cfg())
    assert [i.id for i in snap.interrupts] == [ids["b"]]  # the same id as before
    parts = await client.stream(graph, Command(resume={ids["b"]: "B"}), cfg())
    assert {"worker": {"answers": ["A"]}, "__metadata__": {"cached": True}} in parts
    assert {"worker": {"answers": ["B"]}} in parts
    assert (await client.get_state(graph, cfg())).values["answers"] == ["A", "B"]
    assert calls.count("a") == 2  # the first run and its resume; never a third time


async def test_one_value_for_several_interrupts_is_refused(client: GraphClient) -> None:
    """A single resume value cannot say which interrupt it answers; the thread is unchanged."""
    graph = fan_graph([])
    await client.invoke(graph, {"prompts": ["a", "b"]}, cfg())
    before = await client.get_state(graph, cfg())
    with pytest.raises(AmbiguousResumeError, match="multiple pending interrupts") as info:
        await client.invoke(graph, Command(resume="x"), cfg())
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, InvalidResumeError)
    after = await client.get_state(graph, cfg())
    assert after.config == before.config and len(after.interrupts) == 2


class Text(TypedDict):
    text: Annotated[str, operator.add]


def two_questions():
    def ask(state: Text) -> dict:
        first = interrupt({"q": 1})
        second = interrupt({"q": 2})
        return {"text": f" {first} {second}"}

    builder = StateGraph(Text)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("style", ["value", "map"])
async def test_resume_with_update_applies_both(client: GraphClient, style: str) -> None:
    """Command(resume=..., update=...) writes the update and still answers the interrupt."""
    graph = two_questions()
    out = await client.invoke(graph, {"text": "DE"}, cfg())
    pending = out["__interrupt__"][0]
    resume = "one" if style == "value" else {pending.id: "one"}
    parts = await client.stream(graph, Command(resume=resume, update={"text": " +"}), cfg())
    assert parts == [
        {"__interrupt__": (Interrupt(value={"q": 2}, id=parts[0]["__interrupt__"][0].id),)}
    ]
    assert (await client.get_state(graph, cfg())).values == {"text": "DE +"}
    second = parts[0]["__interrupt__"][0]
    resume = "two" if style == "value" else {second.id: "two"}
    values = await client.stream(graph, Command(resume=resume), cfg(), stream_mode="values")
    assert values == [{"text": "DE +"}, {"text": "DE + one two"}]
    history = await client.get_state_history(graph, cfg())
    assert history[0].values == {"text": "DE + one two"} and history[0].next == ()


async def test_resume_streams_the_state_it_starts_from(client: GraphClient) -> None:
    """On ``values``, a resumed run first streams the state it resumes from."""
    graph = two_questions()
    out = await client.stream(graph, {"text": "x"}, cfg(), stream_mode="values")
    assert out[0] == {"text": "x"}
    assert [i.value for i in out[-1]["__interrupt__"]] == [{"q": 1}]
    again = await client.stream(graph, Command(resume="a"), cfg(), stream_mode="values")
    assert again[0] == {"text": "x"}
