"""A run that stops mid-turn does not hold its thread against other writers (threads, tasks).

The rule that a new turn may not start in the middle of another writer's turn must not turn a
stopped run (static interrupt, error, cancelled stream, update_state) into a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, MessagesState, StateGraph

Opener = Callable[[Path], AbstractContextManager[BaseCheckpointSaver]]
OPENERS: dict[str, Opener] = {
    "memory": lambda _: nullcontext(InMemorySaver()),
    "sqlite": lambda tmp: SqliteSaver.from_conn_string(tmp / "turns.db"),
}
THREAD = {"configurable": {"thread_id": "t"}}


@pytest.fixture(params=sorted(OPENERS))
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseCheckpointSaver]:
    with OPENERS[request.param](tmp_path) as saver:
        yield saver


def two_nodes(saver: BaseCheckpointSaver, second: Callable[[MessagesState], Any], **compile: Any) -> Any:
    """START -> first -> second, each answering with a message."""
    builder = StateGraph(MessagesState)
    builder.add_node("first", lambda state: {"messages": [("assistant", "first")]})
    builder.add_node("second", second)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    return builder.compile(checkpointer=saver, **compile)


def in_live_thread(work: Callable[[], Any]) -> Callable[[], None]:
    """Run ``work`` in a thread that stays alive (so its id is not reused); returns how to end it."""
    done, finish = threading.Event(), threading.Event()

    def body() -> None:
        with contextlib.suppress(Exception):  # the test checks the thread's state, not this writer's error
            work()
        done.set()
        finish.wait(30)

    worker = threading.Thread(target=body)
    worker.start()
    done.wait(30)

    def end() -> None:
        finish.set()
        worker.join()

    return end


def contents(graph: Any) -> list[str]:
    return [m.content for m in graph.get_state(THREAD).values["messages"]]


def test_a_run_stopped_at_a_static_interrupt_lets_another_thread_start_a_turn(saver: BaseCheckpointSaver) -> None:
    """Thread A's run stops before "second" (interrupt_before); thread B's new turn goes through at once."""
    graph = two_nodes(saver, lambda state: {"messages": [("assistant", "second")]}, interrupt_before=["second"])
    end = in_live_thread(lambda: graph.invoke({"messages": [("user", "from a")]}, THREAD))
    try:
        graph.invoke({"messages": [("user", "from b")]}, THREAD)
    finally:
        end()
    assert contents(graph)[:2] == ["from a", "first"]
    assert "from b" in contents(graph)


def test_a_run_that_failed_lets_another_thread_start_a_turn(saver: BaseCheckpointSaver) -> None:
    """Thread A's run fails in "second"; thread B's new turn goes through at once."""
    calls: list[str] = []

    def second(state: MessagesState) -> dict[str, Any]:
        calls.append(state["messages"][-2].content)
        if len(calls) == 1:
            raise RuntimeError("the model is down")
        return {"messages": [("assistant", "second")]}

    graph = two_nodes(saver, second)
    end = in_live_thread(lambda: graph.invoke({"messages": [("user", "from a")]}, THREAD))
    try:
        graph.invoke({"messages": [("user", "from b")]}, THREAD)
    finally:
        end()
    assert contents(graph)[-3:] == ["from b", "first", "second"]


def test_update_state_does_not_hold_the_thread(saver: BaseCheckpointSaver) -> None:
    """A checkpoint written by update_state (which schedules the next node) holds no turn."""
    graph = two_nodes(saver, lambda state: {"messages": [("assistant", "second")]})
    graph.invoke({"messages": [("user", "hi")]}, THREAD)
    end = in_live_thread(lambda: graph.update_state(THREAD, {"messages": [("user", "noted")]}, as_node="first"))
    try:
        graph.invoke({"messages": [("user", "from b")]}, THREAD)
    finally:
        end()
    assert contents(graph)[-3:] == ["from b", "first", "second"]


async def test_a_cancelled_stream_lets_another_task_start_a_turn(saver: BaseCheckpointSaver) -> None:
    """A task streaming a run is cancelled while "second" runs; another task's turn goes through at once."""
    started, never = asyncio.Event(), asyncio.Event()

    async def second(state: MessagesState) -> dict[str, Any]:
        if state["messages"][0].content == "from a":
            started.set()
            await never.wait()
        return {"messages": [("assistant", "second")]}

    graph = two_nodes(saver, second)

    async def consume() -> None:
        async for _ in graph.astream({"messages": [("user", "from a")]}, THREAD):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    await asyncio.sleep(0.05)
    never.set()  # the engine lets a running node finish before it gives up the run
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [m.content for m in (await graph.aget_state(THREAD)).values["messages"]] == ["from a", "first"]
    result = await graph.ainvoke({"messages": [("user", "from b")]}, THREAD)
    assert [m.content for m in result["messages"]][-3:] == ["from b", "first", "second"]
