"""Per-thread persistence: state between calls, history, update_state, time travel, pending writes."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.base import DeltaValue
from threadloom.checkpoint.memory import InMemorySaver, MemorySaver
from threadloom.errors import (
    CheckpointerNotConfiguredError,
    InvalidUpdateError,
    MissingThreadIdError,
)
from threadloom.graph import START, MessagesState, StateGraph


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def cfg(thread: str = "t") -> dict:
    return {"configurable": {"thread_id": thread}}


def logger(name: str):
    return lambda state: {"log": [name]}


def chain(saver=None, names=("a", "b")):
    builder = StateGraph(State)
    builder.add_sequence([(n, logger(n)) for n in names])
    builder.add_edge(START, names[0])
    return builder.compile(checkpointer=saver if saver is not None else InMemorySaver())


def echo_graph(saver=None):
    builder = StateGraph(MessagesState)
    builder.add_node("echo", lambda s: {"messages": [("ai", f"echo {s['messages'][-1].content}")]})
    builder.add_edge(START, "echo")
    return builder.compile(checkpointer=saver if saver is not None else MemorySaver())


def test_state_persists_per_thread_between_calls() -> None:
    """A thread keeps its state between invokes; another thread starts empty."""
    graph = echo_graph()
    graph.invoke({"messages": ["one"]}, cfg("1"))
    out = graph.invoke({"messages": ["two"]}, cfg("1"))
    assert [m.content for m in out["messages"]] == ["one", "echo one", "two", "echo two"]
    other = graph.invoke({"messages": ["hey"]}, cfg("2"))
    assert len(other["messages"]) == 2


def test_missing_thread_id_is_a_clear_value_error() -> None:
    """A checkpointer graph called without thread_id raises MissingThreadIdError (a ValueError)."""
    with pytest.raises(MissingThreadIdError, match="thread_id"):
        echo_graph().invoke({"messages": ["x"]})
    with pytest.raises(ValueError):
        echo_graph().invoke({"messages": ["x"]}, {"configurable": {}})


def test_get_state_reports_values_next_metadata_and_config() -> None:
    """get_state returns the latest values, no next node after a finished run, and the config."""
    graph = chain()
    graph.invoke({"x": 1}, cfg())
    snap = graph.get_state(cfg())
    assert snap.values == {"x": 1, "log": ["a", "b"]}
    assert snap.next == ()
    assert snap.metadata["source"] == "loop"
    assert snap.config["configurable"]["checkpoint_id"]
    assert snap.parent_config is not None


def test_get_state_of_unknown_thread_is_empty() -> None:
    """get_state on a thread that never ran has empty values and no next node."""
    snap = chain().get_state(cfg("nobody"))
    assert snap.values == {} and snap.next == ()


def test_get_state_without_checkpointer_is_an_error() -> None:
    """get_state on a graph compiled without a checkpointer says how to fix it."""
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {})
    builder.add_edge(START, "a")
    with pytest.raises(CheckpointerNotConfiguredError, match="checkpointer"):
        builder.compile().get_state(cfg())


def test_history_lists_checkpoints_newest_first_with_next_nodes() -> None:
    """get_state_history yields one snapshot per step, newest first."""
    graph = chain()
    graph.invoke({"x": 1}, cfg())
    history = list(graph.get_state_history(cfg()))
    assert [s.next for s in history] == [(), ("b",), ("a",)]
    assert [s.metadata["source"] for s in history] == ["loop", "loop", "input"]
    assert [s.values["log"] for s in history] == [["a", "b"], ["a"], []]
    assert len(list(graph.get_state_history(cfg(), limit=1))) == 1


def test_time_travel_forks_from_a_past_checkpoint() -> None:
    """Invoking with a past checkpoint_id re-runs from there and leaves the old branch intact."""
    graph = chain()
    graph.invoke({"x": 1}, cfg())
    before_b = next(s for s in graph.get_state_history(cfg()) if s.next == ("b",))
    graph.update_state(before_b.config, {"log": ["edited"]}, as_node="a")
    forked = graph.invoke(None, graph.get_state(cfg()).config)
    assert forked["log"] == ["a", "edited", "b"]
    replay = graph.invoke(None, before_b.config)
    assert replay["log"] == ["a", "b"]


def test_update_state_acts_as_the_named_node() -> None:
    """update_state(as_node=n) applies reducers and schedules n's successors."""
    graph = chain(names=("a", "b", "c"))
    graph.invoke({"x": 1}, cfg(), interrupt_before=["b"])
    assert graph.get_state(cfg()).next == ("b",)
    graph.update_state(cfg(), {"log": ["manual"]}, as_node="b")
    assert graph.get_state(cfg()).next == ("c",)
    assert graph.invoke(None, cfg())["log"] == ["a", "manual", "c"]


def test_update_state_with_unknown_node_or_key_is_an_error() -> None:
    """update_state names an unknown as_node or state key."""
    graph = chain()
    graph.invoke({"x": 1}, cfg())
    with pytest.raises(InvalidUpdateError, match="'ghost'"):
        graph.update_state(cfg(), {"x": 2}, as_node="ghost")
    with pytest.raises(InvalidUpdateError, match="'nope'"):
        graph.update_state(cfg(), {"nope": 2}, as_node="a")


def test_succeeded_nodes_of_a_failed_step_are_not_rerun_on_resume() -> None:
    """When one node of a step fails, resuming re-runs only the failed node."""
    calls = {"ok": 0, "flaky": 0}
    broken = [True]

    def ok(state: State) -> dict:
        calls["ok"] += 1
        return {"log": ["ok"]}

    def flaky(state: State) -> dict:
        calls["flaky"] += 1
        if broken[0]:
            raise RuntimeError("boom")
        return {"log": ["flaky"]}

    builder = StateGraph(State)
    builder.add_node("ok", ok)
    builder.add_node("flaky", flaky)
    builder.add_edge(START, "ok")
    builder.add_edge(START, "flaky")
    graph = builder.compile(checkpointer=InMemorySaver())
    with pytest.raises(RuntimeError):
        graph.invoke({"x": 0}, cfg())
    failed = graph.get_state(cfg())
    assert failed.next == ("ok", "flaky")
    assert [t.error is not None for t in failed.tasks] == [False, True]
    broken[0] = False
    assert graph.invoke(None, cfg())["log"] == ["ok", "flaky"]
    assert calls == {"ok": 1, "flaky": 2}


def test_message_history_is_checkpointed_as_deltas() -> None:
    """After the first turn, a turn stores only its new messages (a DeltaValue), not the history."""
    saver = InMemorySaver()
    stored: list[object] = []
    put = saver.put

    def spy(config, checkpoint, metadata, new_versions):
        if "messages" in new_versions:
            stored.append(checkpoint["channel_values"]["messages"])
        return put(config, checkpoint, metadata, new_versions)

    saver.put = spy  # type: ignore[method-assign]
    graph = echo_graph(saver)
    for i in range(5):
        graph.invoke({"messages": [f"m{i}"]}, cfg())
    deltas = [v for v in stored if isinstance(v, DeltaValue)]
    assert len(deltas) >= len(stored) - 1
    assert all(sum(len(w) for w in d.writes) == 1 for d in deltas)


def test_reloaded_state_equals_the_state_kept_in_memory() -> None:
    """A fresh graph object reading the saver sees exactly the messages of the live one."""
    saver = InMemorySaver()
    graph = echo_graph(saver)
    for i in range(80):  # long enough to cross a full snapshot
        graph.invoke({"messages": [f"m{i}"]}, cfg())
    live = graph.get_state(cfg()).values["messages"]
    reloaded = echo_graph(saver).get_state(cfg()).values["messages"]
    assert [(m.id, m.content) for m in reloaded] == [(m.id, m.content) for m in live]
    assert len(live) == 160


def test_a_second_writer_on_the_thread_is_seen_by_the_next_turn() -> None:
    """When another graph object advances the thread, the next turn reads the saver, not stale memory."""
    saver = InMemorySaver()
    first, second = echo_graph(saver), echo_graph(saver)
    first.invoke({"messages": ["a"]}, cfg())
    second.invoke({"messages": ["b"]}, cfg())
    out = first.invoke({"messages": ["c"]}, cfg())
    assert [m.content for m in out["messages"]] == ["a", "echo a", "b", "echo b", "c", "echo c"]


async def test_async_twins_read_and_update_state() -> None:
    """ainvoke, aget_state, aupdate_state and aget_state_history work like their sync twins."""
    graph = chain()
    await graph.ainvoke({"x": 1}, cfg())
    assert (await graph.aget_state(cfg())).values["log"] == ["a", "b"]
    await graph.aupdate_state(cfg(), {"x": 9}, as_node="b")
    assert (await graph.aget_state(cfg())).values["x"] == 9
    assert len([s async for s in graph.aget_state_history(cfg())]) == 4


def test_in_place_mutation_of_read_state_does_not_leak_into_the_next_turn() -> None:
    """A node appending to a list it read changes neither the live nor the saved state."""

    class Bag(TypedDict):
        items: list[str]
        n: int

    def sneaky(state: Bag) -> dict:
        state["items"].append("sneaky")
        return {"n": state["n"] + 1}

    builder = StateGraph(Bag)
    builder.add_node("sneaky", sneaky)
    builder.add_edge(START, "sneaky")
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"items": ["a"], "n": 0}, cfg())
    out = graph.invoke({"n": 5}, cfg())
    assert out == {"items": ["a"], "n": 6}


def test_one_graph_serves_many_threads_concurrently() -> None:
    """Concurrent invokes on different threads of one compiled graph keep their histories apart."""
    from concurrent.futures import ThreadPoolExecutor

    graph = echo_graph()

    def converse(thread: str) -> int:
        for i in range(15):
            graph.invoke({"messages": [f"{thread}-{i}"]}, cfg(thread))
        messages = graph.get_state(cfg(thread)).values["messages"]
        assert all(m.content.endswith(tuple(f"{thread}-{i}" for i in range(15))) for m in messages)
        return len(messages)

    with ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(pool.map(converse, [f"t{n}" for n in range(6)]))
    assert counts == [30] * 6


def test_checkpoint_metadata_keeps_caller_metadata_and_configurable_values() -> None:
    """Plain configurable values and config metadata are stored on checkpoints and filterable."""
    graph = chain()
    config = {"configurable": {"thread_id": "m", "user_id": "u1"}, "metadata": {"tag": "t"}}
    graph.invoke({"x": 1}, config)
    meta = graph.get_state(cfg("m")).metadata
    assert meta["user_id"] == "u1" and meta["tag"] == "t"
    assert "thread_id" not in meta
    assert len(list(graph.get_state_history(cfg("m"), filter={"user_id": "u1"}))) == 3
