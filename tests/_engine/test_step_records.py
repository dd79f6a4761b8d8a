"""A thread's history records what each task of each step wrote, as LangGraph's does.

Every completed step stores its tasks' writes against the checkpoint the step
started from, in the same saver call as the step's new checkpoint. A past
snapshot is the record of its step: every task with its result and the
interrupts it raised, answered or not. The thread's head is live: what already
finished is applied, and only what still waits is listed.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom._engine._checkpoint import task_id
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, interrupt


class State(TypedDict, total=False):
    query: str
    answer: str
    docs: Annotated[list[str], operator.add]


def cfg(thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def retrieval(saver: Any, calls: list[str] | None = None) -> Any:
    """rewrite -> (left, right) in parallel -> qa, which asks before it answers."""
    seen = calls if calls is not None else []

    def rewrite(state: State) -> State:
        seen.append("rewrite")
        return {"query": "q: " + state["query"]}

    def left(state: State) -> State:
        seen.append("left")
        return {"docs": ["l"]}

    def right(state: State) -> State:
        seen.append("right")
        return {"docs": ["r"]}

    def qa(state: State) -> State:
        seen.append("qa")
        interrupt("go?")
        return {"answer": ",".join(state["docs"])}

    builder = StateGraph(State)
    for name, fn in (("rewrite", rewrite), ("left", left), ("right", right), ("qa", qa)):
        builder.add_node(name, fn)
    builder.add_edge(START, "rewrite")
    builder.add_edge("rewrite", "left")
    builder.add_edge("rewrite", "right")
    builder.add_edge(["left", "right"], "qa")
    return builder.compile(checkpointer=saver)


async def test_history_shows_each_tasks_result_and_path(client: GraphClient, saver: Any) -> None:
    """Each past step lists its tasks with the path ``('__pregel_pull', node)`` and what they
    wrote; the input checkpoint's task is ``__start__`` with the input as its result."""
    graph = retrieval(saver)
    await client.invoke(graph, {"query": "x"}, cfg())
    await client.invoke(graph, Command(resume="yes"), cfg())
    history = await client.get_state_history(graph, cfg())
    record = [
        (s.metadata["step"], [(t.name, t.path, t.result) for t in s.tasks]) for s in history
    ]
    assert record == [
        (3, []),
        (2, [("qa", ("__pregel_pull", "qa"), {"answer": "l,r"})]),
        (
            1,
            [
                ("left", ("__pregel_pull", "left"), {"docs": ["l"]}),
                ("right", ("__pregel_pull", "right"), {"docs": ["r"]}),
            ],
        ),
        (0, [("rewrite", ("__pregel_pull", "rewrite"), {"query": "q: x"})]),
        (-1, [("__start__", ("__pregel_pull", "__start__"), {"query": "x"})]),
    ]


async def test_a_past_step_keeps_its_answered_interrupt_beside_the_result(
    client: GraphClient, saver: Any
) -> None:
    """The record of a step that was interrupted and then resumed shows both the interrupt
    and the result; while it waited, the head showed the interrupt and no result."""
    graph = retrieval(saver)
    await client.invoke(graph, {"query": "x"}, cfg())
    waiting = await client.get_state(graph, cfg())
    assert waiting.next == ("qa",)
    assert [(t.result, [i.value for i in t.interrupts]) for t in waiting.tasks] == [(None, ["go?"])]
    await client.invoke(graph, Command(resume="yes"), cfg())
    past = (await client.get_state_history(graph, cfg()))[1]
    assert past.next == ("qa",)
    [task] = past.tasks
    assert task.result == {"answer": "l,r"}
    assert [i.value for i in task.interrupts] == ["go?"]
    assert [i.value for i in past.interrupts] == ["go?"]


async def test_a_task_that_writes_nothing_reads_as_finished(client: GraphClient) -> None:
    """A node that returns nothing has the result ``{}`` in the history (it ran), not ``None``."""
    builder = StateGraph(State)
    builder.add_node("quiet", lambda state: None)
    builder.add_edge(START, "quiet")
    graph = builder.compile(checkpointer=InMemorySaver())
    await client.invoke(graph, {"query": "x"}, cfg())
    past = (await client.get_state_history(graph, cfg()))[1]
    assert [(t.name, t.result) for t in past.tasks] == [("quiet", {})]


async def test_the_head_after_a_failed_step_applies_what_finished(client: GraphClient) -> None:
    """After one of two parallel nodes failed, the head's values hold the other's writes and
    ``next`` lists only the failed node; the record of the step lists both."""

    def boom(state: State) -> State:
        raise RuntimeError("boom")

    builder = StateGraph(State)
    builder.add_node("ok", lambda state: {"docs": ["ok"]})
    builder.add_node("boom", boom)
    builder.add_edge(START, "ok")
    builder.add_edge(START, "boom")
    graph = builder.compile(checkpointer=InMemorySaver())
    with pytest.raises(RuntimeError, match="boom"):
        await client.invoke(graph, {"query": "x", "docs": []}, cfg())
    head = await client.get_state(graph, cfg())
    assert head.next == ("boom",)
    assert head.values["docs"] == ["ok"]
    assert [(t.name, t.result, t.error) for t in head.tasks] == [
        ("ok", {"docs": ["ok"]}, None),
        ("boom", None, "RuntimeError('boom')"),
    ]
    record = await client.get_state(graph, head.config)
    assert record.next == ("ok", "boom")
    assert record.values["docs"] == []


async def test_resuming_a_past_checkpoint_runs_its_finished_tasks_again(
    client: GraphClient, saver: Any
) -> None:
    """``Command(resume=...)`` with the config of a checkpoint the thread has moved past
    replays its step: the task that finished there runs again and its interrupt is answered."""
    calls: list[str] = []
    graph = retrieval(saver, calls)
    await client.invoke(graph, {"query": "x"}, cfg())
    assert await client.invoke(graph, Command(resume="yes"), cfg()) == {
        "query": "q: x",
        "docs": ["l", "r"],
        "answer": "l,r",
    }
    at_qa = (await client.get_state_history(graph, cfg()))[1]
    calls.clear()
    out = await client.invoke(graph, Command(resume="again"), at_qa.config)
    assert out["answer"] == "l,r"
    assert calls == ["qa"]


async def test_a_completed_step_is_saved_with_one_saver_call(client: GraphClient) -> None:
    """The tasks' writes and the step's checkpoint go to the saver together (``put_step``)."""
    saver = InMemorySaver()
    made: list[str] = []
    for name in ("put", "put_writes", "put_step"):
        for method in (name, "a" + name):
            original = getattr(saver, method)

            def spy(*args: Any, _o: Any = original, _m: str = name) -> Any:
                made.append(_m)
                return _o(*args)

            setattr(saver, method, spy)
    graph = retrieval(saver)
    await client.invoke(graph, {"query": "x"}, cfg())
    # the input; the steps of __start__, rewrite and (left, right); qa's interrupt
    assert made == ["put", "put_step", "put_step", "put_step", "put_writes"]


def test_task_ids_do_not_depend_on_the_spelling_of_the_path() -> None:
    """Task ids hash a path's kind as the releases before ``__pregel_pull`` did, so a thread
    saved then (pending writes, interrupt ids) resumes the same after an upgrade."""
    assert task_id("c", "", 1, "qa", ("__pregel_pull", "qa")) == task_id(
        "c", "", 1, "qa", ("pull", "qa")
    )
    assert task_id("c", "", 1, "qa", ("__pregel_push", 0)) == task_id(
        "c", "", 1, "qa", ("push", 0)
    )


def test_a_sent_task_has_langgraphs_push_path_ending_with_false() -> None:
    """A Send's task reads ("__pregel_push", i, False) in get_state and in its own run metadata,
    as LangGraph's (False: a task a Send planned, not a @task call); its id hashes (PUSH, i)."""
    from langchain_core.runnables import RunnableConfig

    from threadloom.types import Send

    seen: list[Any] = []

    def work(arg: dict[str, Any], config: RunnableConfig) -> State:
        seen.append(config["metadata"]["langgraph_path"])
        interrupt("ok?")
        return {"docs": [arg["doc"]]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_conditional_edges(START, lambda s: [Send("work", {"doc": d}) for d in ("a", "b")])
    graph = builder.compile(checkpointer=InMemorySaver())
    graph.invoke({"query": "q"}, cfg())
    tasks = graph.get_state(cfg()).tasks
    assert [t.path for t in tasks] == [("__pregel_push", 0, False), ("__pregel_push", 1, False)]
    assert sorted(seen) == [("__pregel_push", 0, False), ("__pregel_push", 1, False)]
    answers = {i.id: "yes" for i in graph.get_state(cfg()).interrupts}
    assert graph.invoke(Command(resume=answers), cfg())["docs"] == ["a", "b"]


def test_a_task_of_a_one_channel_state_shows_its_write_as_the_result() -> None:
    """StateGraph(Annotated[list, add]): a past task's result is the value it wrote
    (``["a"]``), not a dict keyed by the state's one channel, as in LangGraph."""
    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("a", lambda state: ["a"])
    builder.add_node("b", lambda state: ["b"])
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile(checkpointer=InMemorySaver())
    assert graph.invoke(["in"], cfg()) == ["in", "a", "b"]
    results = [[(t.name, t.result) for t in s.tasks] for s in graph.get_state_history(cfg())]
    assert results == [[], [("b", ["b"])], [("a", ["a"])], [("__start__", ["in"])]]
