"""A graph's ``step_timeout``: a limit on each step's tasks together, sync and async."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.channels import LastValue
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import InvalidOptionError, StepTimeoutError
from threadloom.graph import StateGraph
from threadloom.pregel import NodeBuilder, Pregel


class State(TypedDict):
    hello: str


def _fan_out(slow: Any, fast: Any, **compile: Any) -> Any:
    """Two nodes in one step: ``slow`` and ``fast``."""
    builder = StateGraph(State)
    builder.add_node("slow", slow)
    builder.add_node("fast", fast)
    builder.set_conditional_entry_point(lambda _: ["slow", "fast"])
    return builder.compile(**compile)


def _async_pair(cancelled: list[str], slow_s: float = 2.0) -> Any:
    async def slow(state: State) -> State:
        try:
            await asyncio.sleep(slow_s)
        except asyncio.CancelledError:
            cancelled.append("slow")
            raise
        return {"hello": "slow"}

    async def fast(state: State) -> State:
        await asyncio.sleep(0.05)
        return {"hello": "fast"}

    return slow, fast


async def test_an_async_step_past_its_timeout_cancels_the_running_nodes() -> None:
    """The run raises StepTimeoutError (an asyncio.TimeoutError too) once the limit passes, and
    the node still running is cancelled; the limit counts from the step's start."""
    cancelled: list[str] = []
    graph = _fan_out(*_async_pair(cancelled))
    graph.step_timeout = 0.3
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError) as info:
        await graph.ainvoke({"hello": "world"})
    assert 0.25 < time.monotonic() - started < 1.5
    assert isinstance(info.value, StepTimeoutError)
    assert (info.value.timeout, info.value.nodes) == (0.3, ("slow",))
    assert cancelled == ["slow"]


async def test_time_a_stream_consumer_spends_counts_against_the_step() -> None:
    """A consumer that holds the stream past the deadline gets the timeout on its next read,
    after the parts made before the deadline."""
    cancelled: list[str] = []
    graph = _fan_out(*_async_pair(cancelled), checkpointer=InMemorySaver())
    graph.step_timeout = 0.4
    config = {"configurable": {"thread_id": "t"}}
    seen: list[Any] = []
    with pytest.raises(StepTimeoutError):
        async for chunk in graph.astream(
            {"hello": "world"}, config, stream_mode=["updates", "custom"]
        ):
            seen.append(chunk)
            await asyncio.sleep(0.6)  # longer than what is left of the step
    assert seen == [("updates", {"fast": {"hello": "fast"}})]
    assert cancelled == ["slow"]


async def test_steps_within_the_limit_run_as_without_one() -> None:
    """Each step has the whole limit: a run longer than it, step by step within it, completes."""

    async def astep(state: State) -> State:
        await asyncio.sleep(0.2)
        return {"hello": state["hello"] + "."}

    def step(state: State) -> State:
        time.sleep(0.2)
        return {"hello": state["hello"] + "."}

    for func in (astep, step):
        builder = StateGraph(State)
        builder.add_sequence([("a", func), ("b", func), ("c", func)])
        builder.set_entry_point("a")
        graph = builder.compile()
        graph.step_timeout = 0.5
        assert await graph.ainvoke({"hello": ""}) == {"hello": "..."}
    assert graph.invoke({"hello": ""}) == {"hello": "..."}


def test_a_sync_step_past_its_timeout_raises_and_keeps_the_finished_writes() -> None:
    """A sync node cannot be stopped: it is abandoned in its thread, the run raises
    StepTimeoutError (a TimeoutError), and the finished node's writes stay pending, so the
    thread's state names the timed-out node as next with its error."""
    release = threading.Event()

    def slow(state: State) -> State:
        release.wait(5)
        return {"hello": "slow"}

    def fast(state: State) -> State:
        return {"hello": "fast"}

    saver = InMemorySaver()
    graph = _fan_out(slow, fast, checkpointer=saver)
    graph.step_timeout = 0.2
    config = {"configurable": {"thread_id": "t"}}
    try:
        with pytest.raises(TimeoutError, match=r"step_timeout=0\.2s \('slow' still running\)"):
            graph.invoke({"hello": "world"}, config)
    finally:
        release.set()
    state = graph.get_state(config)
    assert state.next == ("slow",)
    errors = {task.name: task.error for task in state.tasks}
    assert errors["fast"] is None
    assert "StepTimeoutError" in str(errors["slow"])
    pending = {(w[1], str(w[2])) for w in saver.get_tuple(config).pending_writes}
    assert ("hello", "fast") in pending
    assert any(channel == "__error__" and "StepTimeoutError" in value for channel, value in pending)


def test_a_sync_stream_yields_what_finished_then_times_out() -> None:
    """The parts made before the deadline reach the caller, then the timeout."""
    release = threading.Event()

    def slow(state: State) -> State:
        release.wait(5)
        return {"hello": "slow"}

    def fast(state: State) -> State:
        return {"hello": "fast"}

    graph = _fan_out(slow, fast)
    graph.step_timeout = 0.2
    seen: list[Any] = []
    try:
        with pytest.raises(StepTimeoutError):
            for chunk in graph.stream({"hello": "world"}, stream_mode="updates", subgraphs=True):
                seen.append(chunk)
    finally:
        release.set()
    assert seen == [((), {"fast": {"hello": "fast"}})]


def test_a_waiting_task_under_max_concurrency_never_starts_after_the_timeout() -> None:
    """With ``max_concurrency`` the tasks still waiting for their turn at the deadline are
    dropped with the run, not started later in the background."""
    started: list[str] = []
    release = threading.Event()

    def node(name: str) -> Any:
        def run(state: State) -> State:
            started.append(name)
            release.wait(0.5)
            return {"hello": name}

        return run

    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        builder.add_node(name, node(name))
    builder.set_conditional_entry_point(lambda _: ["a", "b", "c"])
    graph = builder.compile()
    graph.step_timeout = 0.1
    with pytest.raises(StepTimeoutError):
        graph.invoke({"hello": ""}, {"max_concurrency": 1})
    release.set()
    time.sleep(0.3)
    assert len(started) == 1  # the one that had the turn (any of them); the others never start


def test_pregel_takes_step_timeout_as_an_argument() -> None:
    """``Pregel(step_timeout=...)`` sets the attribute ``compile()``d graphs have."""

    def slow(value: str) -> str:
        time.sleep(0.5)
        return value

    app = Pregel(
        nodes={"n": NodeBuilder().subscribe_only("a").do(slow).write_to("b")},
        channels={"a": LastValue(str), "b": LastValue(str)},
        input_channels="a",
        output_channels="b",
        step_timeout=0.1,
    )
    assert app.step_timeout == 0.1
    with pytest.raises(StepTimeoutError):
        app.invoke("x")


@pytest.mark.parametrize("limit", [-1, "1", True, float("nan")])
def test_a_bad_step_timeout_is_a_clear_error(limit: Any) -> None:
    """A limit that is not a positive number of seconds is refused before anything runs."""
    graph = _one_node(lambda state: {"hello": "ok"})
    graph.step_timeout = limit
    with pytest.raises(InvalidOptionError, match="step_timeout must be a positive number"):
        graph.invoke({"hello": ""})


def test_zero_or_none_means_no_limit() -> None:
    """``0`` and ``None`` both mean no limit, as in LangGraph."""

    def fast(state: State) -> State:
        time.sleep(0.05)
        return {"hello": "fast"}

    for limit in (0, None):
        graph = _one_node(fast)
        graph.step_timeout = limit
        assert graph.invoke({"hello": ""}) == {"hello": "fast"}


def _one_node(func: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("only", func)
    builder.set_entry_point("only")
    return builder.compile()
