"""InMemorySaver: the conformance suite, plus what only the in-memory saver promises (threads of one process)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.memory import InMemorySaver, MemorySaver
from threadloom.errors import CheckpointConflictError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.checkpoint import CheckpointerConformance, make_checkpoint, thread


class TestInMemorySaver(CheckpointerConformance):
    """InMemorySaver passes the checkpointer conformance suite."""

    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


def test_memory_saver_is_an_alias() -> None:
    """MemorySaver is the same class as InMemorySaver."""
    assert MemorySaver is InMemorySaver


def test_concurrent_puts_from_threads_are_all_kept() -> None:
    """Puts from many threads at once are all stored, none lost."""
    saver = InMemorySaver()

    def work(n: int) -> None:
        config = thread(f"t{n}")
        for i in range(50):
            config = saver.put(config, make_checkpoint({"i": i}, {"i": i + 1}), {"step": i}, {"i": i + 1})

    workers = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(list(saver.list(None))) == 400
    latest = saver.get_tuple(thread("t3"))
    assert latest is not None and latest.checkpoint["channel_values"] == {"i": 49}


def _reply(state: MessagesState) -> dict[str, Any]:
    time.sleep(0.001)  # a node that takes a moment: the other thread's turn tries to land meanwhile
    return {"messages": [("assistant", f"re: {state['messages'][-1].content}")]}


def test_two_threads_invoking_one_conversation_lose_no_turn() -> None:
    """Two threads invoke one graph 25 times each on one conversation, retrying on
    CheckpointConflictError: every question is kept once and answered right after it."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "shared"}}
    start = threading.Barrier(2)

    def chat(name: str) -> None:
        start.wait()
        for n in range(25):
            while True:
                try:
                    graph.invoke({"messages": [("user", f"{name}-{n}")]}, config)
                    break
                except CheckpointConflictError:
                    time.sleep(0.001)

    workers = [threading.Thread(target=chat, args=(f"t{i}",)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    messages = graph.get_state(config).values["messages"]
    asked = [m.content for m in messages if m.type == "human"]
    assert sorted(asked) == sorted(f"t{i}-{n}" for i in range(2) for n in range(25))
    assert [m.content for m in messages] == [text for q in asked for text in (q, f"re: {q}")]
