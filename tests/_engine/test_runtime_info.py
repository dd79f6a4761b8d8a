"""``runtime.execution_info`` and the other Runtime fields a node or tool reads."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph
from threadloom.runtime import ExecutionInfo, Runtime, ServerInfo, get_runtime
from threadloom.testing.graph import GraphClient
from threadloom.types import RetryPolicy


class State(TypedDict):
    n: int


def capturing_graph(seen: list[Any], **compile_kwargs: Any) -> Any:
    def node(state: State, runtime: Runtime) -> dict[str, int]:
        seen.append(runtime.execution_info)
        return {"n": state["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    return builder.compile(**compile_kwargs)


async def test_execution_info_describes_the_running_task(client: GraphClient) -> None:
    """thread, checkpoint, namespace and task of the node; first attempt; run_id from the config."""
    seen: list[ExecutionInfo] = []
    graph = capturing_graph(seen, checkpointer=InMemorySaver())
    config = {
        "configurable": {"thread_id": "t-1"},
        "run_id": "0193a4b2-0000-7000-8000-000000000001",
    }
    before = time.time()
    await client.invoke(graph, {"n": 0}, config)
    (info,) = seen
    assert info.thread_id == "t-1"
    assert info.run_id == "0193a4b2-0000-7000-8000-000000000001"
    assert info.node_attempt == 1
    assert info.node_first_attempt_time is not None
    assert before <= info.node_first_attempt_time <= time.time()
    assert info.checkpoint_ns == f"node:{info.task_id}"
    assert info.checkpoint_id  # the checkpoint the step started from
    history = [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(config)]
    assert info.checkpoint_id in history


async def test_execution_info_without_a_checkpointer(client: GraphClient) -> None:
    """Without a saver there is no thread; the task is still described."""
    seen: list[ExecutionInfo] = []
    await client.invoke(capturing_graph(seen), {"n": 0})
    (info,) = seen
    assert info.thread_id is None
    assert info.run_id is None
    assert info.task_id and info.checkpoint_ns.endswith(info.task_id)


async def test_node_attempt_counts_retries(client: GraphClient) -> None:
    """Each retry sees the next attempt number and the same first-attempt time."""
    seen: list[ExecutionInfo] = []

    def flaky(state: State, runtime: Runtime) -> dict[str, int]:
        seen.append(runtime.execution_info)
        if len(seen) < 3:
            raise ConnectionError("again")
        return {"n": 1}

    builder = StateGraph(State)
    builder.add_node(
        "flaky",
        flaky,
        retry_policy=RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False),
    )
    builder.add_edge(START, "flaky")
    assert await client.invoke(builder.compile(), {"n": 0}) == {"n": 1}
    assert [i.node_attempt for i in seen] == [1, 2, 3]
    assert len({i.node_first_attempt_time for i in seen}) == 1
    assert len({i.task_id for i in seen}) == 1


async def test_subgraph_nodes_see_their_nested_namespace(client: GraphClient) -> None:
    """A subgraph's node sees the parent's thread and a namespace under the parent task."""
    seen: dict[str, ExecutionInfo] = {}

    def inner(state: State) -> dict[str, int]:
        seen["inner"] = get_runtime().execution_info  # type: ignore[assignment]
        return {"n": state["n"] + 1}

    child = StateGraph(State)
    child.add_node("inner", inner)
    child.add_edge(START, "inner")

    def outer(state: State, runtime: Runtime) -> dict[str, int]:
        seen["outer"] = runtime.execution_info  # type: ignore[assignment]
        return {"n": state["n"]}

    parent = StateGraph(State)
    parent.add_node("outer", outer)
    parent.add_node("sub", child.compile())
    parent.add_edge(START, "outer")
    parent.add_edge("outer", "sub")
    graph = parent.compile(checkpointer=InMemorySaver())
    await client.invoke(graph, {"n": 0}, {"configurable": {"thread_id": "nested"}})
    outer_info, inner_info = seen["outer"], seen["inner"]
    assert outer_info.thread_id == inner_info.thread_id == "nested"
    assert "|" not in outer_info.checkpoint_ns
    assert inner_info.checkpoint_ns.startswith("sub:")
    assert inner_info.checkpoint_ns.endswith(f"|inner:{inner_info.task_id}")


def test_execution_info_is_none_outside_a_run_and_patchable() -> None:
    """A bare Runtime has no execution_info; patching it is an error until it has one."""
    runtime: Runtime[Any] = Runtime()
    assert runtime.execution_info is None
    with pytest.raises(RuntimeError, match="execution_info"):
        runtime.patch_execution_info(node_attempt=2)
    info = ExecutionInfo(checkpoint_id="c", checkpoint_ns="", task_id="t")
    patched = runtime.override(execution_info=info).patch_execution_info(node_attempt=2)
    assert patched.execution_info == ExecutionInfo("c", "", "t", node_attempt=2)
    assert info.node_attempt == 1  # frozen: patching copies
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.task_id = "other"  # type: ignore[misc]


def test_merge_prefers_the_fields_the_other_runtime_sets() -> None:
    """merge keeps this runtime's values where the other leaves the defaults."""
    beats: list[str] = []
    base: Runtime[Any] = Runtime(context={"user": "ann"}, store="store-a")
    other: Runtime[Any] = Runtime(store="store-b", heartbeat=lambda: beats.append("beat"))
    merged = base.merge(other)
    assert merged.context == {"user": "ann"}
    assert merged.store == "store-b"
    merged.heartbeat()
    assert beats == ["beat"]
    assert base.merge(Runtime()).heartbeat is base.heartbeat


async def test_heartbeat_is_a_field_a_node_can_call_outside_a_timeout(
    client: GraphClient,
) -> None:
    """runtime.heartbeat() does nothing harmful when the node has no idle timeout."""
    calls: list[bool] = []

    def node(state: State, runtime: Runtime) -> dict[str, int]:
        runtime.heartbeat()
        calls.append(True)
        return {"n": 1}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    assert await client.invoke(builder.compile(), {"n": 0}) == {"n": 1}
    assert calls == [True]


async def test_an_entrypoint_sees_previous_on_its_runtime(client: GraphClient) -> None:
    """runtime.previous in an entrypoint is what the thread's last run returned."""
    from threadloom.func import entrypoint

    seen: list[Any] = []

    @entrypoint(checkpointer=InMemorySaver())
    def workflow(value: int, *, runtime: Runtime) -> int:
        seen.append(runtime.previous)
        return value * 10

    config = {"configurable": {"thread_id": "prev"}}
    await client.invoke(workflow, 1, config)
    await client.invoke(workflow, 2, config)
    assert seen == [None, 10]


async def test_server_info_comes_from_the_assistant_graph_and_user_in_the_config(
    client: GraphClient,
) -> None:
    """``runtime.server_info`` names the assistant, graph and authenticated user an agent
    server puts in ``configurable``; a run outside a server has none."""

    class User:
        identity = "ann"

    seen: list[Any] = []

    def node(state: State, runtime: Runtime) -> dict[str, int]:
        seen.append(runtime.server_info)
        return {"n": state["n"]}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile()
    user = User()
    configurable = {"assistant_id": "asst-1", "graph_id": "agent", "langgraph_auth_user": user}
    await client.invoke(graph, {"n": 0}, {"configurable": configurable})
    await client.invoke(graph, {"n": 0}, {"configurable": {"graph_id": "agent"}})
    await client.invoke(graph, {"n": 0})
    assert seen[0] == ServerInfo(assistant_id="asst-1", graph_id="agent", user=user)
    assert seen[1] == ServerInfo(assistant_id="", graph_id="agent", user=None)
    assert seen[2] is None
