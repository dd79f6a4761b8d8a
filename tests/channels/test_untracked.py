"""``UntrackedValue`` (live only, never saved), ``AnyValue`` and channel classes in ``Annotated``."""

from __future__ import annotations

import operator
import threading
from pathlib import Path
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.channels import AnyValue, EphemeralValue, UntrackedValue
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import InvalidUpdateError
from threadloom.graph import START, StateGraph
from threadloom.types import Send


class Session:
    """Something no checkpoint can hold (a lock)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    session: Annotated[Session, UntrackedValue]


def test_untracked_value_keeps_one_value_and_saves_nothing() -> None:
    """The value is readable; its checkpoint is empty; two writes need guard=False."""
    channel = UntrackedValue(Session, key="session")
    live = Session("a")
    channel.update([live])
    assert channel.get() is live
    assert not channel.from_checkpoint(channel.checkpoint()).is_available()
    assert channel.copy().get() is live
    with pytest.raises(InvalidUpdateError, match="can receive only one value per step"):
        channel.update([Session("b"), Session("c")])
    assert channel.get() is live
    loose = UntrackedValue(str, guard=False, key="s")
    loose.update(["x", "y"])
    assert loose.get() == "y"


def test_any_value_takes_any_write_and_clears_after_a_quiet_step() -> None:
    """Several writes in a step are fine (the last is kept); a step without writes clears it."""
    channel = AnyValue(int, key="done")
    channel.update([1, 1])
    assert channel.get() == 1
    assert channel.update([])
    assert not channel.is_available()
    assert not channel.update([])


def _fan_out_graph() -> StateGraph:
    def setup(state: State) -> dict:
        return {"log": ["setup"], "session": Session("first")}

    def tool(state: State) -> dict:
        assert state["session"].name == "first"  # the live object reached the Send target
        return {"log": [f"tool used {state['session'].name}"], "session": Session("second")}

    builder = StateGraph(State)
    builder.add_node("setup", setup)
    builder.add_node("tool", tool)
    builder.add_edge(START, "setup")
    builder.add_conditional_edges("setup", lambda s: [Send("tool", s)])
    return builder


def test_untracked_values_reach_nodes_but_never_the_sqlite_file(tmp_path: Path) -> None:
    """A Send carrying an unserializable untracked value runs; the saved state lacks the key."""
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(str(tmp_path / "t.db")) as saver:
        graph = _fan_out_graph().compile(checkpointer=saver)
        out = graph.invoke({"log": []}, config)
        assert out["log"] == ["setup", "tool used first"]
        assert out["session"].name == "second"
        assert "session" not in graph.get_state(config).values
        for snapshot in graph.get_state_history(config):
            assert "session" not in snapshot.values


def test_a_later_run_on_the_thread_starts_without_the_untracked_value() -> None:
    """The state kept between runs equals the checkpoint: the live value is gone."""
    seen: list[object] = []

    def look(state: State) -> dict:
        seen.append(state.get("session"))
        return {"log": ["look"]}

    builder = StateGraph(State)
    builder.add_node("open", lambda s: {"session": Session("x")} if not s["log"] else {})
    builder.add_node("look", look)
    builder.add_edge(START, "open")
    builder.add_edge("open", "look")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"log": []}, config)
    graph.invoke({"log": ["again"]}, config)
    assert isinstance(seen[0], Session) and seen[1] is None


def test_a_channel_class_in_annotated_is_built_for_the_key_type() -> None:
    """``Annotated[int, EphemeralValue]`` makes an EphemeralValue of int for the key."""

    class Signals(TypedDict):
        ping: Annotated[int, EphemeralValue]
        total: Annotated[int, operator.add]

    builder = StateGraph(Signals).add_node("n", lambda s: {}).add_edge(START, "n")
    channels = builder.compile().channels
    assert isinstance(channels["ping"], EphemeralValue)
    assert channels["ping"].typ is int and channels["ping"].key == "ping"


def test_an_interrupted_step_saves_its_writes_without_the_untracked_value() -> None:
    """When a parallel node pauses, the writes of the node that finished are saved for the
    resume without its untracked value (which no checkpoint could hold)."""
    from threadloom.types import Command, interrupt

    calls: list[str] = []

    def opener(state: State) -> dict:
        calls.append("opener")
        return {"log": ["opened"], "session": Session("s")}

    def asker(state: State) -> dict:
        return {"log": [interrupt("go?")]}

    builder = StateGraph(State)
    builder.add_node("opener", opener)
    builder.add_node("asker", asker)
    builder.add_edge(START, "opener")
    builder.add_edge(START, "asker")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    out = graph.invoke({"log": []}, config)
    assert [i.value for i in out["__interrupt__"]] == ["go?"]
    assert sorted(graph.invoke(Command(resume="yes"), config)["log"]) == ["opened", "yes"]
    assert calls == ["opener"]
