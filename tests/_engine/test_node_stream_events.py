"""``astream_events``: each node and each ``@task`` call streams its output once
(``on_chain_stream``) before its run ends, as LangGraph's nodes do; a failed one does not."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.func import entrypoint, task
from threadloom.graph import START, StateGraph


class State(TypedDict):
    x: int


async def test_each_node_streams_its_output_before_its_run_ends() -> None:
    async def double(state: State) -> State:
        return {"x": state["x"] * 2}

    graph = (
        StateGraph(State)
        .add_node("double", double)
        .add_node("inc", lambda s: {"x": s["x"] + 1})
        .add_edge(START, "double")
        .add_edge("double", "inc")
        .compile()
    )
    events = [e async for e in graph.astream_events({"x": 3}, version="v2")]
    nodes = [(e["event"], e["name"], e["data"]) for e in events if e["name"] in ("double", "inc")]
    assert nodes == [
        ("on_chain_start", "double", {"input": {"x": 3}}),
        ("on_chain_stream", "double", {"chunk": {"x": 6}}),
        ("on_chain_end", "double", {"output": {"x": 6}, "input": {"x": 3}}),
        ("on_chain_start", "inc", {"input": {"x": 6}}),
        ("on_chain_stream", "inc", {"chunk": {"x": 7}}),
        ("on_chain_end", "inc", {"output": {"x": 7}, "input": {"x": 6}}),
    ]
    streams = [e for e in events if e["event"] == "on_chain_stream" and e["name"] == "double"]
    assert streams[0]["tags"] == ["graph:step:1"]


async def test_a_failing_node_streams_nothing() -> None:
    def fail(state: State) -> State:
        raise ValueError("no")

    graph = StateGraph(State).add_node("fail", fail).add_edge(START, "fail").compile()
    seen: list[tuple[str, str]] = []
    with pytest.raises(ValueError):
        async for e in graph.astream_events({"x": 1}, version="v2"):
            seen.append((e["event"], e["name"]))
    assert ("on_chain_start", "fail") in seen
    assert ("on_chain_stream", "fail") not in seen


async def test_each_task_call_streams_its_value() -> None:
    @task
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    @task
    async def broken(n: int) -> int:
        raise ValueError("broken")

    @entrypoint()
    async def flow(n: int) -> int:
        with contextlib.suppress(ValueError):
            await broken(n)
        return await double(n)

    events = [e async for e in flow.astream_events(4, version="v2")]
    calls = [(e["event"], e["name"], e["data"]) for e in events if e["name"] in ("double", "broken")]
    assert calls == [
        ("on_chain_start", "broken", {"input": {"n": 4}}),
        ("on_chain_start", "double", {"input": {"n": 4}}),
        ("on_chain_stream", "double", {"chunk": 8}),
        ("on_chain_end", "double", {"output": 8, "input": {"n": 4}}),
    ]



async def test_a_workflow_reports_its_runs_as_langgraph_does() -> None:
    """The workflow's run is ``LangGraph``; its node run shows the workflow's input and is
    triggered by ``__start__``; each ``@task`` call is a pushed run under it."""

    @task
    async def double(n: int) -> int:
        return n * 2

    @entrypoint()
    async def flow(n: int) -> int:
        first = await double(n)
        return await double(first)

    assert flow.name == "LangGraph"
    events = [e async for e in flow.astream_events(3, version="v2")]
    assert [(e["event"], e["name"]) for e in events][:2] == [
        ("on_chain_start", "LangGraph"),
        ("on_chain_start", "flow"),
    ]
    node = [e for e in events if e["name"] == "flow"]
    assert [e["data"] for e in node if e["event"] != "on_chain_stream"] == [
        {"input": 3},
        {"input": 3, "output": 12},
    ]
    assert node[0]["metadata"]["langgraph_triggers"] == ("__start__",)
    assert node[0]["metadata"]["langgraph_path"] == ("__pregel_pull", "flow")
    calls = [e for e in events if e["name"] == "double" and e["event"] == "on_chain_start"]
    assert [e["tags"] for e in calls] == [["seq:step:1"], ["seq:step:1"]]
    assert [e["metadata"]["langgraph_path"] for e in calls] == [
        ("__pregel_push", ("__pregel_pull", "flow"), 0, True),
        ("__pregel_push", ("__pregel_pull", "flow"), 1, True),
    ]
    assert {e["metadata"]["langgraph_node"] for e in calls} == {"double"}
    assert {e["metadata"]["langgraph_triggers"] for e in calls} == {("__pregel_push",)}
    root_chunks = [
        e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream" and e["name"] == "LangGraph"
    ]
    assert root_chunks == [{"double": 6}, {"double": 12}, {"flow": 12}]


def test_a_task_call_sees_its_own_metadata() -> None:
    from threadloom.config import get_config

    @task
    def where() -> tuple[str, Any]:
        metadata = get_config()["metadata"]
        return metadata["langgraph_node"], metadata["langgraph_triggers"]

    @entrypoint()
    def flow(_: int) -> Any:
        return where().result()

    assert flow.invoke(1) == ("where", ("__pregel_push",))


async def test_the_graph_run_carries_the_thread_and_the_integration() -> None:
    """The graph's run has the thread id and ``ls_integration`` in its metadata; its runs inherit it."""
    graph = StateGraph(State).add_node("inc", lambda s: {"x": s["x"] + 1}).add_edge(START, "inc")
    compiled = graph.compile()
    config = {"configurable": {"thread_id": "t-1"}}
    events = [e async for e in compiled.astream_events({"x": 1}, config, version="v2")]
    for event in events:
        assert event["metadata"]["thread_id"] == "t-1"
        assert event["metadata"]["ls_integration"] == "langgraph"
    root = events[0]
    assert root["metadata"] == {"thread_id": "t-1", "ls_integration": "langgraph"}


async def test_a_workflow_streams_its_return_before_the_update_of_its_last_call() -> None:
    """The last call's update reaches the graph's stream once the workflow has returned."""

    @task
    async def double(n: int) -> int:
        return n * 2

    @entrypoint()
    async def flow(n: int) -> int:
        await double(n)
        return n

    events = [e async for e in flow.astream_events(1, version="v2")]
    tail = [(e["event"], e["name"]) for e in events if e["event"] != "on_chain_start"]
    assert tail == [
        ("on_chain_stream", "double"),
        ("on_chain_end", "double"),
        ("on_chain_stream", "flow"),
        ("on_chain_stream", "LangGraph"),
        ("on_chain_end", "flow"),
        ("on_chain_stream", "LangGraph"),
        ("on_chain_end", "LangGraph"),
    ]
