"""``bulk_update_state``: several supersteps of updates, one checkpoint each."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import InvalidUpdateError
from threadloom.graph import START, StateGraph
from threadloom.types import Command, Send, StateUpdate


class State(TypedDict):
    foo: str
    baz: str


def _graph(saver: InMemorySaver) -> object:
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"foo": "a"})
    builder.add_node("b", lambda s: {"baz": "b"})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile(checkpointer=saver)


def test_each_superstep_is_one_checkpoint() -> None:
    """Updates of one superstep apply together; each superstep saves one checkpoint."""
    saver = InMemorySaver()
    graph = _graph(saver)
    config = {"configurable": {"thread_id": "1"}}
    graph.bulk_update_state(  # type: ignore[attr-defined]
        config,
        [
            [StateUpdate({"foo": "x"}, as_node="a")],
            [StateUpdate({"foo": "y"}, as_node="a"), StateUpdate({"baz": "z"}, as_node="b")],
        ],
    )
    assert graph.get_state(config).values == {"foo": "y", "baz": "z"}  # type: ignore[attr-defined]
    assert len(list(saver.list(config))) == 2


async def test_async_twin_and_refusals() -> None:
    """The async twin behaves alike; empty input and ambiguous bulk updates are refused."""
    saver = InMemorySaver()
    graph = _graph(saver)
    config = {"configurable": {"thread_id": "2"}}
    await graph.abulk_update_state(config, [[StateUpdate({"foo": "q"}, as_node="a")]])  # type: ignore[attr-defined]
    assert (await graph.aget_state(config)).values == {"foo": "q"}  # type: ignore[attr-defined]
    with pytest.raises(InvalidUpdateError, match="No supersteps"):
        await graph.abulk_update_state(config, [])  # type: ignore[attr-defined]
    with pytest.raises(InvalidUpdateError, match="No updates"):
        await graph.abulk_update_state(config, [[], []])  # type: ignore[attr-defined]
    with pytest.raises(InvalidUpdateError):
        await graph.abulk_update_state(  # type: ignore[attr-defined]
            config, [[StateUpdate({"foo": "e"}), StateUpdate({"baz": "e"})]]
        )
    assert len(list(saver.list(config))) == 1  # nothing was written by the refused calls


class Fanned(TypedDict):
    foo: str
    done: Annotated[list[int], operator.add]


def test_updates_as_the_sent_tasks_of_a_step_complete_that_step() -> None:
    """Updates as the tasks a ``Send`` scheduled stand for those tasks: they consume the
    sends, so the thread reads as one that ran them (nothing left in ``next``)."""

    def fan_out(state: Fanned) -> Command:
        return Command(goto=[Send("work", {"i": i}) for i in range(3)], update={"foo": "fanned"})

    builder = StateGraph(Fanned)
    builder.add_node("fan_out", fan_out)
    builder.add_node("work", lambda arg: {"done": [arg["i"]]})
    builder.add_edge(START, "fan_out")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    sent = Command(goto=[Send("work", {"i": i}) for i in range(3)], update={"foo": "fanned"})
    graph.bulk_update_state(
        config,
        [
            [StateUpdate({"foo": "in"}, "__input__")],
            [StateUpdate(sent, "fan_out")],
            [StateUpdate({"done": [i]}, "work") for i in range(3)],
        ],
    )
    state = graph.get_state(config)
    assert state.values == {"foo": "fanned", "done": [0, 1, 2]}
    assert state.next == ()
    history = [s.next for s in graph.get_state_history(config)]
    assert history[:2] == [(), ("work", "work", "work")]
