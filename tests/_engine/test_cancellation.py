"""Stopping a run inside a step: a failing node, a cancelled ``ainvoke``, a closed stream.

What the step finished is kept (as pending writes, or the checkpoint
``durability="exit"`` held back), and what did not finish runs on the next call.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from contextlib import aclosing
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


class Sleeper:
    """An async node that sleeps, and records whether it started, ended or was cancelled."""

    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds
        self.events: list[str] = []

    async def __call__(self, state: Log) -> Log:
        self.events.append("start")
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise
        self.events.append("end")
        return {"log": [self.name]}


def _parallel(*nodes: tuple[str, Any], then: tuple[str, Any] | None = None, **compile: Any) -> Any:
    """The nodes run in one step from START; ``then`` follows the first of them."""
    builder = StateGraph(Log)
    for name, node in nodes:
        builder.add_node(name, node)
        builder.add_edge(START, name)
    if then is not None:
        builder.add_node(then[0], then[1])
        builder.add_edge(nodes[0][0], then[0])
    return builder.compile(**compile)


async def test_a_failing_node_cancels_its_async_siblings_and_fails_at_once() -> None:
    slow = Sleeper("slow", 2.0)

    async def bad(state: Log) -> Log:
        raise ValueError("bad input")

    graph = _parallel(("slow", slow), ("bad", bad))
    started = time.monotonic()
    with pytest.raises(ValueError, match="bad input"):
        await graph.ainvoke({"log": []})
    assert time.monotonic() - started < 1.0
    assert slow.events == ["start", "cancelled"]


async def test_a_sync_sibling_cannot_be_stopped_so_its_writes_are_kept() -> None:
    """A sync node runs on in its thread: the failed step waits for it, and a resume of the
    thread reuses its writes instead of running it again."""
    calls: list[str] = []
    broken = [True]

    def steady(state: Log) -> Log:
        time.sleep(0.2)
        calls.append("steady")
        return {"log": ["steady"]}

    async def flaky(state: Log) -> Log:
        if broken[0]:
            raise RuntimeError("flaky")
        return {"log": ["flaky"]}

    graph = _parallel(("steady", steady), ("flaky", flaky), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    with pytest.raises(RuntimeError):
        await graph.ainvoke({"log": []}, config)
    assert calls == ["steady"]
    broken[0] = False
    assert sorted((await graph.ainvoke(None, config))["log"]) == ["flaky", "steady"]
    assert calls == ["steady"]


async def test_cancelling_a_run_under_exit_durability_saves_what_it_held_back() -> None:
    """``durability="exit"`` saves at the end of a run; a cancelled run ends too, so the
    thread keeps its input and the node that did not finish is next."""
    slow = Sleeper("slow", 2.0)
    builder = StateGraph(Log)
    builder.add_node("slow", slow)
    builder.add_edge(START, "slow")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    run = asyncio.ensure_future(graph.ainvoke({"log": ["hi"]}, config, durability="exit"))
    await asyncio.sleep(0.2)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert slow.events == ["start", "cancelled"]
    state = await graph.aget_state(config)
    assert state.values == {"log": ["hi"]}
    assert state.next == ("slow",)


async def test_closing_a_stream_mid_step_keeps_the_finished_writes_and_cancels_the_rest() -> None:
    quick = Sleeper("quick", 0.05)
    slow = Sleeper("slow", 2.0)
    after = Sleeper("after", 0.0)
    graph = _parallel(
        ("quick", quick), ("slow", slow), then=("after", after), checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}}
    started = time.monotonic()
    async with aclosing(graph.astream({"log": []}, config)) as stream:
        async for chunk in stream:
            assert chunk == {"quick": {"log": ["quick"]}}  # before the step ends
            break
    assert time.monotonic() - started < 1.0
    assert slow.events == ["start", "cancelled"]
    assert after.events == []
    state = await graph.aget_state(config)
    assert state.values == {"log": ["quick"]}  # the pending write shows
    assert state.next == ("slow",)
    slow.seconds = 0.0
    assert (await graph.ainvoke(None, config))["log"] == ["quick", "slow", "after"]
    assert quick.events == ["start", "end"]  # not run again


def test_a_sync_stream_shows_each_update_of_a_step_as_its_task_finishes() -> None:
    release = threading.Event()

    def slow(state: Log) -> Log:
        release.wait(5)
        return {"log": ["slow"]}

    graph = _parallel(("slow", slow), ("fast", lambda state: {"log": ["fast"]}))
    stream = graph.stream({"log": []})
    try:
        assert next(stream) == {"fast": {"log": ["fast"]}}  # slow is still waiting
    finally:
        release.set()
    assert list(stream) == [{"slow": {"log": ["slow"]}}]


async def test_the_graph_run_is_named_langgraph_in_events() -> None:
    """A compiled StateGraph's default name is LangGraph's, which event filters use."""
    graph = _parallel(("only", lambda state: {"log": ["x"]}))
    assert graph.get_name() == "LangGraph"
    events = [
        e["event"]
        async for e in graph.astream_events({"log": []}, version="v2", include_names=["LangGraph"])
    ]
    assert events[0] == "on_chain_start" and events[-1] == "on_chain_end"


class _Abort(BaseException):
    """Not an ``Exception``: no task script records it, as with a cancellation on 3.10."""


async def test_what_escapes_a_node_ends_its_step_at_once_and_cancels_the_rest() -> None:
    slow = Sleeper("slow", 2.0)

    async def abort(state: Log) -> Log:
        raise _Abort("stop everything")

    graph = _parallel(("slow", slow), ("abort", abort))
    started = time.monotonic()
    with pytest.raises(_Abort):
        await graph.ainvoke({"log": []})
    assert time.monotonic() - started < 1.0
    assert slow.events == ["start", "cancelled"]
    with pytest.raises(_Abort):  # the same through a stream, whose steps run live
        async for _ in graph.astream({"log": []}, stream_mode="updates"):
            pass
