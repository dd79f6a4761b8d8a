"""``durability=``: what each mode saves, and what a SIGKILL mid-run leaves on SQLite."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, interrupt


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def _chain(*steps: Any) -> StateGraph:
    builder = StateGraph(State)
    names = []
    for i, step in enumerate(steps):
        name = f"n{i}"
        builder.add_node(name, step)
        builder.add_edge(START if i == 0 else names[-1], name)
        names.append(name)
    return builder


def _say(word: str) -> Any:
    return lambda state: {"log": [word]}


THREAD = {"configurable": {"thread_id": "t"}}


async def test_exit_saves_one_checkpoint_per_run(client: GraphClient) -> None:
    """With ``"exit"`` a run saves its final state once; ``"sync"`` saves every step."""
    for mode, expected in (("sync", 5), ("exit", 1)):
        saver = InMemorySaver()
        graph = _chain(_say("a"), _say("b"), _say("c")).compile(checkpointer=saver)
        assert await client.invoke(graph, {"log": []}, THREAD, durability=mode) == {
            "log": ["a", "b", "c"]
        }
        assert len(list(saver.list(THREAD))) == expected
        assert (await client.get_state(graph, THREAD)).values == {"log": ["a", "b", "c"]}


async def test_exit_saves_at_an_interrupt_and_resumes(client: GraphClient) -> None:
    """An interrupt stops an ``"exit"`` run: its state and pending interrupt are saved."""
    saver = InMemorySaver()
    graph = _chain(_say("a"), lambda s: {"log": [interrupt("word?")]}, _say("c")).compile(
        checkpointer=saver
    )
    await client.invoke(graph, {"log": []}, THREAD, durability="exit")
    assert len(list(saver.list(THREAD))) == 1
    assert (await client.get_state(graph, THREAD)).next == ("n1",)
    out = await client.invoke(graph, Command(resume="b"), THREAD, durability="exit")
    assert out == {"log": ["a", "b", "c"]}


async def test_exit_saves_when_a_node_fails(client: GraphClient) -> None:
    """A failing ``"exit"`` run saves the state before the failing step, so it can be retried."""
    failing = [True]

    def flaky(state: State) -> State:
        if failing.pop() if failing else False:
            raise RuntimeError("boom")
        return {"log": ["b"]}

    saver = InMemorySaver()
    graph = _chain(_say("a"), flaky).compile(checkpointer=saver)
    with pytest.raises(RuntimeError):
        await client.invoke(graph, {"log": []}, THREAD, durability="exit")
    assert (await client.get_state(graph, THREAD)).values == {"log": ["a"]}
    assert await client.invoke(graph, None, THREAD, durability="exit") == {"log": ["a", "b"]}


async def test_exit_saves_nothing_for_a_subgraph_call_that_completes(client: GraphClient) -> None:
    """With ``"exit"`` only the root saves (once); a subgraph that finishes leaves no checkpoint,
    one that is interrupted keeps its state to resume from, as in LangGraph."""
    saver = InMemorySaver()
    inner = _chain(_say("x"), _say("y")).compile(checkpointer=saver)
    asking = _chain(lambda s: {"log": [interrupt("word?")]}).compile(checkpointer=saver)
    outer = StateGraph(State)
    outer.add_node("inner", inner)
    outer.add_node("asking", asking)
    outer.add_edge(START, "inner")
    outer.add_edge("inner", "asking")
    graph = outer.compile(checkpointer=saver)
    await client.invoke(graph, {"log": []}, THREAD, durability="exit")
    namespaces = sorted({c.config["configurable"]["checkpoint_ns"] for c in saver.list(THREAD)})
    assert [ns.split(":")[0] for ns in namespaces] == ["", "asking"]
    out = await client.invoke(graph, Command(resume="z"), THREAD, durability="exit")
    # Each subgraph returns its whole log, which the parent's reducer appends.
    assert out == {"log": ["x", "y", "x", "y", "z"]}


_WORKER = textwrap.dedent(
    """
    import operator, sys, time
    from pathlib import Path
    from typing import Annotated
    from typing_extensions import TypedDict
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    db, ready, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def hang(state):
        ready.write_text("in step 3")
        time.sleep(600)

    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_node("hang", hang)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "hang")
    graph = builder.compile(checkpointer=SqliteSaver(db))
    graph.invoke({"log": []}, {"configurable": {"thread_id": "t"}}, durability=mode)
    """
)


@pytest.mark.parametrize(
    ("mode", "checkpoints", "values"),
    [("sync", 4, {"log": ["a", "b"]}), ("async", 4, {"log": ["a", "b"]}), ("exit", 0, None)],
)
def test_sigkill_mid_run_on_sqlite(
    tmp_path: Path, mode: str, checkpoints: int, values: Any
) -> None:
    """Killed in step 3: ``sync``/``async`` leave the input checkpoint and steps 0..2 on disk, ``exit`` leaves nothing."""
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    db, ready = tmp_path / "cp.sqlite", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(ready), mode], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the worker exited before reaching the hanging node"
            assert time.monotonic() < deadline, "the worker never reached the hanging node"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with SqliteSaver.from_conn_string(str(db)) as saver:
        assert len(list(saver.list(THREAD))) == checkpoints
        found = saver.get_tuple(THREAD)
        if values is None:
            assert found is None
        else:
            assert found is not None
            graph = _chain(_say("a"), _say("b")).compile(checkpointer=saver)
            assert graph.get_state(THREAD).values == values


_PARALLEL_WORKER = textwrap.dedent(
    """
    import operator, sys, time
    from pathlib import Path
    from typing import Annotated
    from typing_extensions import TypedDict
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.graph import START, StateGraph

    class State(TypedDict):
        log: Annotated[list[str], operator.add]

    db, ready, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def hang(state):
        while not (ready.parent / "fast-done").exists():  # the fast node has finished
            time.sleep(0.01)
        time.sleep(0.2)  # and the driver has had its turn to save it
        ready.write_text("fast finished, hang running")
        time.sleep(600)

    def fast(state):
        (ready.parent / "fast-done").write_text("")
        return {"log": ["fast"]}

    builder = StateGraph(State)
    builder.add_node("fast", fast)
    builder.add_node("hang", hang)
    builder.add_edge(START, "fast")
    builder.add_edge(START, "hang")
    graph = builder.compile(checkpointer=SqliteSaver(db))
    graph.invoke({"log": []}, {"configurable": {"thread_id": "t"}}, durability=mode)
    """
)


@pytest.mark.parametrize(("mode", "kept"), [("sync", True), ("async", False)])
def test_sigkill_mid_step_keeps_the_finished_task_only_under_sync(
    tmp_path: Path, mode: str, kept: bool
) -> None:
    """Killed while one node of a parallel step still runs: ``sync`` saved the other's writes
    as it finished (a resume does not run it again); ``async`` saves a step's writes with
    its checkpoint, so the step runs again whole."""
    script = tmp_path / "worker.py"
    script.write_text(_PARALLEL_WORKER)
    db, ready = tmp_path / "cp.sqlite", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(ready), mode], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the worker exited before the parallel step"
            assert time.monotonic() < deadline, "the worker never reached the parallel step"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    ran: list[str] = []

    def node(name: str) -> Any:
        def run(state: Any) -> Any:
            ran.append(name)
            return {"log": [name]}

        return run

    with SqliteSaver.from_conn_string(str(db)) as saver:
        pending = {w[1] for w in saver.get_tuple(THREAD).pending_writes}
        assert ("log" in pending) is kept
        builder = StateGraph(State)
        builder.add_node("fast", node("fast"))
        builder.add_node("hang", node("hang"))
        builder.add_edge(START, "fast")
        builder.add_edge(START, "hang")
        graph = builder.compile(checkpointer=saver)
        assert sorted(graph.invoke(None, THREAD)["log"]) == ["fast", "hang"]
        assert sorted(ran) == (["hang"] if kept else ["fast", "hang"])


def test_sync_durability_saves_each_task_once() -> None:
    """Writes saved as each task finished are not saved again with the step's checkpoint."""
    saver = InMemorySaver()
    calls: list[str] = []
    originals = {name: getattr(saver, name) for name in ("put", "put_step", "put_writes")}

    def spy(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name if name != "put_writes" else f"put_writes {args[2][:4]}")
            return originals[name](*args, **kwargs)

        return call

    for name in originals:
        setattr(saver, name, spy(name))
    builder = StateGraph(State)
    builder.add_node("x", lambda s: {"log": ["x"]})
    builder.add_node("y", lambda s: {"log": ["y"]})
    builder.add_edge(START, "x")
    builder.add_edge(START, "y")
    graph = builder.compile(checkpointer=saver)
    assert sorted(graph.invoke({"log": []}, THREAD, durability="sync")["log"]) == ["x", "y"]
    first = next(i for i, c in enumerate(calls) if c.startswith("put_writes"))
    assert [c.split()[0] for c in calls[first:]] == ["put_writes", "put_writes", "put"]
    assert len(set(calls[first : first + 2])) == 2  # one call per task
    past = list(graph.get_state_history(THREAD))[1]  # the checkpoint the parallel step ran from
    assert sorted(t.name for t in past.tasks) == ["x", "y"]
    assert sorted(str(t.result) for t in past.tasks) == ["{'log': ['x']}", "{'log': ['y']}"]


def test_sync_durability_calls_a_saver_written_for_older_langgraph_with_three_arguments() -> None:
    """Writes saved as each task finishes go through the same call as the step's others: a
    saver whose ``put_writes`` takes no ``task_path`` still gets them."""

    class OlderSaver(InMemorySaver):
        def put_writes(self, config: Any, writes: Any, task_id: str) -> None:  # type: ignore[override]
            super().put_writes(config, writes, task_id)

    builder = StateGraph(State)
    builder.add_node("x", lambda s: {"log": ["x"]})
    builder.add_node("y", lambda s: {"log": ["y"]})
    builder.add_edge(START, "x")
    builder.add_edge(START, "y")
    graph = builder.compile(checkpointer=OlderSaver())
    assert sorted(graph.invoke({"log": []}, THREAD, durability="sync")["log"]) == ["x", "y"]
