"""Per-thread persistence: state between calls, history, update_state, time travel, pending writes."""

from __future__ import annotations

import asyncio
import operator
import uuid
from typing import Annotated, Any

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
from threadloom.testing.graph import GraphClient


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


async def test_state_persists_per_thread_between_calls(client: GraphClient) -> None:
    """A thread keeps its state between invokes; another thread starts empty."""
    graph = echo_graph()
    await client.invoke(graph, {"messages": ["one"]}, cfg("1"))
    out = await client.invoke(graph, {"messages": ["two"]}, cfg("1"))
    assert [m.content for m in out["messages"]] == ["one", "echo one", "two", "echo two"]
    other = await client.invoke(graph, {"messages": ["hey"]}, cfg("2"))
    assert len(other["messages"]) == 2


async def test_missing_thread_id_is_a_clear_value_error(client: GraphClient) -> None:
    """A checkpointer graph called without thread_id raises MissingThreadIdError (a ValueError)."""
    with pytest.raises(MissingThreadIdError, match="thread_id"):
        await client.invoke(echo_graph(), {"messages": ["x"]})
    with pytest.raises(ValueError):
        await client.invoke(echo_graph(), {"messages": ["x"]}, {"configurable": {}})


async def test_a_uuid_thread_id_names_the_thread_of_its_text(client: GraphClient) -> None:
    """A ``uuid.UUID`` thread_id is accepted; the thread is the one its text names, and
    configs handed back carry the text."""
    thread = uuid.UUID(int=7)
    graph = echo_graph()
    await client.invoke(graph, {"messages": ["one"]}, {"configurable": {"thread_id": thread}})
    by_text = await client.get_state(graph, cfg(str(thread)))
    assert [m.content for m in by_text.values["messages"]] == ["one", "echo one"]
    by_uuid = await client.get_state(graph, {"configurable": {"thread_id": thread}})
    assert by_uuid.config["configurable"]["thread_id"] == str(thread)


async def test_get_state_reports_values_next_metadata_and_config(client: GraphClient) -> None:
    """get_state returns the latest values, no next node after a finished run, and the config."""
    graph = chain()
    await client.invoke(graph, {"x": 1}, cfg())
    snap = await client.get_state(graph, cfg())
    assert snap.values == {"x": 1, "log": ["a", "b"]}
    assert snap.next == ()
    assert snap.metadata["source"] == "loop"
    assert snap.config["configurable"]["checkpoint_id"]
    assert snap.parent_config is not None


async def test_get_state_of_unknown_thread_is_empty(client: GraphClient) -> None:
    """get_state on a thread that never ran has empty values and no next node."""
    snap = await client.get_state(chain(), cfg("nobody"))
    assert snap.values == {} and snap.next == ()


async def test_get_state_without_checkpointer_is_an_error(client: GraphClient) -> None:
    """get_state on a graph compiled without a checkpointer says how to fix it."""
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {})
    builder.add_edge(START, "a")
    with pytest.raises(CheckpointerNotConfiguredError, match="checkpointer"):
        await client.get_state(builder.compile(), cfg())


async def test_history_lists_checkpoints_newest_first_with_next_nodes(client: GraphClient) -> None:
    """get_state_history yields one snapshot per step, newest first."""
    graph = chain()
    await client.invoke(graph, {"x": 1}, cfg())
    history = await client.get_state_history(graph, cfg())
    assert [s.next for s in history] == [(), ("b",), ("a",), ("__start__",)]
    assert [s.metadata["source"] for s in history] == ["loop", "loop", "loop", "input"]
    assert [s.metadata["step"] for s in history] == [2, 1, 0, -1]
    assert [s.values.get("log") for s in history] == [["a", "b"], ["a"], [], []]
    assert len(await client.get_state_history(graph, cfg(), limit=1)) == 1


async def test_time_travel_forks_from_a_past_checkpoint(client: GraphClient) -> None:
    """Invoking with a past checkpoint_id re-runs from there and leaves the old branch intact."""
    graph = chain()
    await client.invoke(graph, {"x": 1}, cfg())
    before_b = next(s for s in await client.get_state_history(graph, cfg()) if s.next == ("b",))
    await client.update_state(graph, before_b.config, {"log": ["edited"]}, as_node="a")
    forked = await client.invoke(graph, None, (await client.get_state(graph, cfg())).config)
    assert forked["log"] == ["a", "edited", "b"]
    replay = await client.invoke(graph, None, before_b.config)
    assert replay["log"] == ["a", "b"]


async def test_update_state_acts_as_the_named_node(client: GraphClient) -> None:
    """update_state(as_node=n) applies reducers and schedules n's successors."""
    graph = chain(names=("a", "b", "c"))
    await client.invoke(graph, {"x": 1}, cfg(), interrupt_before=["b"])
    assert (await client.get_state(graph, cfg())).next == ("b",)
    await client.update_state(graph, cfg(), {"log": ["manual"]}, as_node="b")
    assert (await client.get_state(graph, cfg())).next == ("c",)
    assert (await client.invoke(graph, None, cfg()))["log"] == ["a", "manual", "c"]


async def test_update_state_with_unknown_node_or_key_is_an_error(client: GraphClient) -> None:
    """update_state names an unknown as_node or state key."""
    graph = chain()
    await client.invoke(graph, {"x": 1}, cfg())
    with pytest.raises(InvalidUpdateError, match="'ghost'"):
        await client.update_state(graph, cfg(), {"x": 2}, as_node="ghost")
    with pytest.raises(InvalidUpdateError, match="'nope'"):
        await client.update_state(graph, cfg(), {"nope": 2}, as_node="a")


def parallel_graph(**nodes: Any) -> Any:
    """A graph whose nodes all run in its first step."""
    builder = StateGraph(State)
    for name, node in nodes.items():
        builder.add_node(name, node)
        builder.add_edge(START, name)
    return builder.compile(checkpointer=InMemorySaver())


async def test_succeeded_nodes_of_a_failed_step_are_not_rerun_on_resume(
    client: GraphClient,
) -> None:
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

    graph = parallel_graph(ok=ok, flaky=flaky)
    with pytest.raises(RuntimeError):
        await client.invoke(graph, {"x": 0}, cfg())
    failed = await client.get_state(graph, cfg())
    assert failed.next == ("flaky",)  # "ok" finished: only "flaky" has still to run
    # The saved error reads as LangGraph's does: the repr of the exception.
    assert [t.error for t in failed.tasks] == [None, "RuntimeError('boom')"]
    broken[0] = False
    # The writes of one step apply in LangGraph's order: pulled nodes by name.
    assert (await client.invoke(graph, None, cfg()))["log"] == ["flaky", "ok"]
    assert calls == {"ok": 1, "flaky": 2}


async def test_the_head_shows_the_writes_of_the_tasks_of_a_failed_step_that_finished(
    client: GraphClient,
) -> None:
    """Read without a checkpoint_id, a thread whose last step failed shows it as it stands,
    as LangGraph does: the values hold what the finished tasks wrote and ``next`` names
    only the tasks still to run. Read by its checkpoint_id, the same checkpoint shows as
    it was saved: the values before the step, every task of the step in ``next``."""

    def fails(state: State) -> dict:
        raise RuntimeError("boom")

    graph = parallel_graph(ok=lambda state: {"x": 5, "log": ["ok"]}, fails=fails)
    with pytest.raises(RuntimeError):
        await client.invoke(graph, {"x": 1}, cfg())
    head = await client.get_state(graph, cfg())
    assert head.values == {"x": 5, "log": ["ok"]}
    assert head.next == ("fails",)
    assert [(t.name, t.result) for t in head.tasks] == [
        ("ok", {"x": 5, "log": ["ok"]}),
        ("fails", None),
    ]
    saved = await client.get_state(graph, head.config)
    assert saved.values == {"x": 1, "log": []}
    assert saved.next == ("ok", "fails")
    history = await client.get_state_history(graph, cfg())
    assert history[0].next == ("ok", "fails")


async def test_message_history_is_checkpointed_as_deltas(client: GraphClient) -> None:
    """After the first turn, a turn stores only its new messages (a DeltaValue), not the history."""
    saver = InMemorySaver()
    stored: list[object] = []
    put, aput = saver.put, saver.aput
    put_step, aput_step = saver.put_step, saver.aput_step

    def record(checkpoint, new_versions) -> None:
        if "messages" in new_versions:
            stored.append(checkpoint["channel_values"]["messages"])

    def spy(config, checkpoint, metadata, new_versions):
        record(checkpoint, new_versions)
        return put(config, checkpoint, metadata, new_versions)

    async def aspy(config, checkpoint, metadata, new_versions):
        record(checkpoint, new_versions)
        return await aput(config, checkpoint, metadata, new_versions)

    def spy_step(config, checkpoint, metadata, new_versions, task_writes):
        record(checkpoint, new_versions)
        return put_step(config, checkpoint, metadata, new_versions, task_writes)

    async def aspy_step(config, checkpoint, metadata, new_versions, task_writes):
        record(checkpoint, new_versions)
        return await aput_step(config, checkpoint, metadata, new_versions, task_writes)

    saver.put = spy  # type: ignore[method-assign]
    saver.aput = aspy  # type: ignore[method-assign]
    saver.put_step = spy_step  # type: ignore[method-assign]
    saver.aput_step = aspy_step  # type: ignore[method-assign]
    graph = echo_graph(saver)
    for i in range(5):
        await client.invoke(graph, {"messages": [f"m{i}"]}, cfg())
    deltas = [v for v in stored if isinstance(v, DeltaValue)]
    assert len(stored) >= 5  # the spy saw every turn's checkpoints
    assert len(deltas) >= len(stored) - 1
    assert all(sum(len(w) for w in d.writes) == 1 for d in deltas)


async def test_reloaded_state_equals_the_state_kept_in_memory(client: GraphClient) -> None:
    """A fresh graph object reading the saver sees exactly the messages of the live one."""
    saver = InMemorySaver()
    graph = echo_graph(saver)
    for i in range(80):  # long enough to cross a full snapshot
        await client.invoke(graph, {"messages": [f"m{i}"]}, cfg())
    live = (await client.get_state(graph, cfg())).values["messages"]
    reloaded = (await client.get_state(echo_graph(saver), cfg())).values["messages"]
    assert [(m.id, m.content) for m in reloaded] == [(m.id, m.content) for m in live]
    assert len(live) == 160


async def test_a_second_writer_on_the_thread_is_seen_by_the_next_turn(client: GraphClient) -> None:
    """When another graph object advances the thread, the next turn reads the saver, not stale memory."""
    saver = InMemorySaver()
    first, second = echo_graph(saver), echo_graph(saver)
    await client.invoke(first, {"messages": ["a"]}, cfg())
    await client.invoke(second, {"messages": ["b"]}, cfg())
    out = await client.invoke(first, {"messages": ["c"]}, cfg())
    assert [m.content for m in out["messages"]] == ["a", "echo a", "b", "echo b", "c", "echo c"]


async def test_update_state_after_a_finished_run_adds_a_checkpoint(client: GraphClient) -> None:
    """An update on a finished thread changes its values and becomes one more history entry."""
    graph = chain()
    await client.invoke(graph, {"x": 1}, cfg())
    assert (await client.get_state(graph, cfg())).values["log"] == ["a", "b"]
    await client.update_state(graph, cfg(), {"x": 9}, as_node="b")
    assert (await client.get_state(graph, cfg())).values["x"] == 9
    assert len(await client.get_state_history(graph, cfg())) == 5


async def test_in_place_mutation_of_read_state_does_not_leak_into_the_next_turn(
    client: GraphClient,
) -> None:
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
    await client.invoke(graph, {"items": ["a"], "n": 0}, cfg())
    out = await client.invoke(graph, {"n": 5}, cfg())
    assert out == {"items": ["a"], "n": 6}


async def test_one_graph_serves_many_threads_concurrently(client: GraphClient) -> None:
    """Concurrent invokes on different threads of one compiled graph keep their histories apart."""
    graph = echo_graph()

    async def converse(thread: str) -> int:
        for i in range(15):
            await client.invoke(graph, {"messages": [f"{thread}-{i}"]}, cfg(thread))
        messages = (await client.get_state(graph, cfg(thread))).values["messages"]
        assert all(m.content.endswith(tuple(f"{thread}-{i}" for i in range(15))) for m in messages)
        return len(messages)

    counts = await asyncio.gather(*(converse(f"t{n}") for n in range(6)))
    assert counts == [30] * 6


async def test_checkpoint_metadata_keeps_caller_metadata_and_configurable_values(
    client: GraphClient,
) -> None:
    """Plain configurable values and config metadata are stored on checkpoints and filterable."""
    graph = chain()
    config = {"configurable": {"thread_id": "m", "user_id": "u1"}, "metadata": {"tag": "t"}}
    await client.invoke(graph, {"x": 1}, config)
    meta = (await client.get_state(graph, cfg("m"))).metadata
    assert meta["user_id"] == "u1" and meta["tag"] == "t"
    assert "thread_id" not in meta
    assert len(await client.get_state_history(graph, cfg("m"), filter={"user_id": "u1"})) == 4


async def test_a_saver_failure_always_surfaces_even_a_stray_stop_iteration(
    client: GraphClient,
) -> None:
    """A saver call that raises (even StopIteration, which ends generators) fails the run."""
    saver = InMemorySaver()

    def broken_put(*args: object) -> None:
        raise StopIteration

    async def abroken_put(*args: object) -> None:
        raise StopIteration

    saver.put = broken_put  # type: ignore[method-assign,assignment]
    saver.aput = abroken_put  # type: ignore[method-assign,assignment]
    with pytest.raises((StopIteration, RuntimeError)):
        await client.invoke(chain(saver), {"x": 1}, cfg())
