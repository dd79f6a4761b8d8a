"""SqliteSaver across processes: concurrent writers lose nothing, two graphs taking turns on one
thread lose no turn, and a killed writer loses nothing it confirmed."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import DeltaValue
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import CheckpointConflictError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.checkpoint import make_checkpoint, thread

# fork: the children start in milliseconds; no connection is open in the parent when they fork.
_fork = multiprocessing.get_context("fork")
_SHARED: RunnableConfig = {"configurable": {"thread_id": "shared", "checkpoint_ns": "", "checkpoint_id": "0"}}


def _writer(path: str, name: str, turns: int, report: Connection | None) -> None:
    """Write `turns` checkpoints (delta chains of messages) and pending writes on thread `name`."""
    with SqliteSaver.from_conn_string(path) as saver:
        config = thread(name)
        version = None
        for i in range(turns):
            new = saver.get_next_version(version)
            message = [HumanMessage(f"{name}-{i}", id=f"{name}-{i}")]
            value = message if version is None else DeltaValue(version, (message,))
            config = saver.put(config, make_checkpoint({"messages": value}, {"messages": new}), {"step": i}, {"messages": new})
            saver.put_writes(config, [("messages", message)], f"task-{i}")
            # Every process also writes to one shared checkpoint, to contend on the same rows.
            saver.put_writes(_SHARED, [("log", f"{name}-{i}")], f"{name}-{i}")
            version = new
            if report is not None:
                report.send(config["configurable"]["checkpoint_id"])


def test_concurrent_processes_lose_no_writes(tmp_path: Path) -> None:
    """Four processes writing one file at once all succeed, and every checkpoint and write is there."""
    path = str(tmp_path / "shared.db")
    with SqliteSaver.from_conn_string(path):
        pass  # set up once, so the children race on writes rather than on setup
    workers = [_fork.Process(target=_writer, args=(path, f"p{n}", 40, None)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    with SqliteSaver.from_conn_string(path) as saver:
        saver.put(thread("shared"), make_checkpoint({}, {}, checkpoint_id="0"), {}, {})
        for n in range(4):
            latest = saver.get_tuple(thread(f"p{n}"))
            assert latest is not None
            messages = latest.checkpoint["channel_values"]["messages"]
            assert [m.id for m in messages] == [f"p{n}-{i}" for i in range(40)]
            assert len(list(saver.list(thread(f"p{n}")))) == 40
        shared = saver.get_tuple(_SHARED)
        assert shared is not None and shared.pending_writes is not None
        assert sorted(v for _, _, v in shared.pending_writes) == sorted(f"p{n}-{i}" for n in range(4) for i in range(40))


def _reply(state: MessagesState) -> dict[str, Any]:
    time.sleep(0.002)  # a node that takes a moment: the other process's turn lands meanwhile
    return {"messages": [("assistant", f"re: {state['messages'][-1].content}")]}


def _chat_process(path: str, name: str, turns: int, start: Any, conflicts: Any) -> None:
    """Invoke a chat graph `turns` times on thread "shared", retrying a turn on CheckpointConflictError."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        config: RunnableConfig = {"configurable": {"thread_id": "shared"}}
        start.wait(60)
        for n in range(turns):
            while True:
                try:
                    graph.invoke({"messages": [("user", f"{name}-{n}")]}, config)
                    break
                except CheckpointConflictError:
                    with conflicts.get_lock():
                        conflicts.value += 1
                    time.sleep(random.uniform(0, 0.005))


def test_two_processes_invoking_one_thread_lose_no_turn(tmp_path: Path) -> None:
    """Two processes invoke a graph 30 times each on one thread of one file, retrying on
    CheckpointConflictError: every human message is in the final state once, each answered."""
    path, turns = str(tmp_path / "chat.db"), 30
    with SqliteSaver.from_conn_string(path):
        pass
    start, conflicts = _fork.Barrier(2), _fork.Value("i", 0)
    workers = [_fork.Process(target=_chat_process, args=(path, f"p{i}", turns, start, conflicts)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    with SqliteSaver.from_conn_string(path) as saver:
        builder = StateGraph(MessagesState)
        builder.add_node("reply", _reply)
        builder.add_edge(START, "reply")
        messages = builder.compile(checkpointer=saver).get_state({"configurable": {"thread_id": "shared"}}).values["messages"]
    asked = [m.content for m in messages if m.type == "human"]
    assert sorted(asked) == sorted(f"p{i}-{n}" for i in range(2) for n in range(turns))
    # Turns never interleave: each question is followed by its own answer.
    assert [m.content for m in messages] == [text for q in asked for text in (q, f"re: {q}")]
    print(f"conflicts retried: {conflicts.value}")


@pytest.mark.slow
def test_a_killed_writer_loses_nothing_it_confirmed(tmp_path: Path) -> None:
    """A writer SIGKILLed at random moments 50 times: every put that returned is present, the file is intact."""
    path = str(tmp_path / "durable.db")
    with SqliteSaver.from_conn_string(path):
        pass
    rng = random.Random(7)
    confirmed: dict[str, list[str]] = {}
    for round_ in range(50):
        name = f"w{round_}"
        receive, send = _fork.Pipe(duplex=False)
        child = _fork.Process(target=_writer, args=(path, name, 10_000, send))
        child.start()
        send.close()
        time.sleep(rng.uniform(0.005, 0.08))
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join()
        ids: list[str] = []
        while True:
            try:
                ids.append(receive.recv())
            except EOFError:
                break
        receive.close()
        confirmed[name] = ids
    with SqliteSaver.from_conn_string(path) as saver:
        for name, ids in confirmed.items():
            stored = {t.checkpoint["id"] for t in saver.list(thread(name))}
            assert set(ids) <= stored, name
            if ids:
                latest = saver.get_tuple(thread(name))
                assert latest is not None  # the newest stored checkpoint still reads, chain and all
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert sum(len(ids) for ids in confirmed.values()) > 0
