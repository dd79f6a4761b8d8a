"""Supersteps: concurrent nodes, writes applied together in a fixed order, recursion limit."""

from __future__ import annotations

import asyncio
import operator
import re
import sys
import threading
import time
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.errors import GraphRecursionError, InvalidUpdateError, NodeCancelledError
from threadloom.graph import END, START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, RetryPolicy, Send


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def appender(name: str, delay: float = 0.0):
    def node(state: State) -> dict:
        time.sleep(delay)
        return {"log": [name]}

    return node


def fan_out_graph(delays: dict[str, float]) -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    for name, delay in delays.items():
        builder.add_node(name, appender(name, delay))
        builder.add_edge("a", name)
    builder.add_edge(START, "a")
    return builder


async def test_nodes_of_one_step_see_the_same_state_and_writes_apply_in_name_order(
    client: GraphClient,
) -> None:
    """Writes of a step apply in LangGraph's order (the nodes by name), whichever node
    finishes first and whichever was added first."""
    graph = fan_out_graph({"slow": 0.05, "fast": 0.0}).compile()
    assert (await client.invoke(graph, {"x": 0}))["log"] == ["a", "fast", "slow"]


async def test_sent_tasks_apply_after_the_pulled_nodes_in_the_order_sent(
    client: GraphClient,
) -> None:
    """In one step the nodes an edge triggered apply first, then the ``Send`` tasks, in
    the order they were sent (not by their argument or by which finished first)."""

    def worker(state: dict) -> dict:
        time.sleep(state["wait"])
        return {"log": [f"sent {state['n']}"]}

    builder = StateGraph(State)
    builder.add_node("a", lambda state: {"log": ["a"]})
    builder.add_node("z", lambda state: {"log": ["z"]})
    builder.add_node("worker", worker)
    builder.add_edge(START, "a")
    builder.add_edge("a", "z")
    builder.add_conditional_edges(
        "a",
        lambda state: [Send("worker", {"n": 2, "wait": 0.05}), Send("worker", {"n": 1, "wait": 0})],
    )
    out = await client.invoke(builder.compile(), {"x": 0})
    assert out["log"] == ["a", "z", "sent 2", "sent 1"]


async def test_sync_nodes_of_one_step_run_in_threads_concurrently(client: GraphClient) -> None:
    """Two sync nodes that each wait for the other only finish if they run concurrently."""
    barrier = threading.Barrier(2, timeout=5)

    def waiter(name: str):
        def node(state: State) -> dict:
            barrier.wait()
            return {"log": [name]}

        return node

    builder = StateGraph(State)
    builder.add_node("p", waiter("p"))
    builder.add_node("q", waiter("q"))
    builder.add_edge(START, "p")
    builder.add_edge(START, "q")
    assert (await client.invoke(builder.compile(), {"x": 0}))["log"] == ["p", "q"]


async def test_async_nodes_of_one_step_run_as_concurrent_tasks() -> None:
    """Async nodes of one step overlap in time."""
    running = []
    peak = []

    def make(name: str):
        async def node(state: State) -> dict:
            running.append(name)
            peak.append(len(running))
            await asyncio.sleep(0.02)
            running.remove(name)
            return {"log": [name]}

        return node

    builder = StateGraph(State)
    for name in ("p", "q", "r"):
        builder.add_node(name, make(name))
        builder.add_edge(START, name)
    out = await builder.compile().ainvoke({"x": 0})
    assert out["log"] == ["p", "q", "r"]
    assert max(peak) == 3


async def test_list_of_sources_waits_for_all_of_them(client: GraphClient) -> None:
    """add_edge([a, b], c) runs c once, after both a and b."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_node("b1", appender("b1"))
    builder.add_node("b2", appender("b2"))
    builder.add_node("c", appender("c"))
    builder.add_edge(START, "a")
    builder.add_edge(START, "b1")
    builder.add_edge("b1", "b2")
    builder.add_edge(["a", "b2"], "c")
    assert (await client.invoke(builder.compile(), {"x": 0}))["log"] == ["a", "b1", "b2", "c"]


async def test_deferred_node_waits_until_other_branches_finish(client: GraphClient) -> None:
    """A deferred node runs once nothing else is pending."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_node("long1", appender("long1"))
    builder.add_node("long2", appender("long2"))
    builder.add_node("final", appender("final"), defer=True)
    builder.add_edge(START, "a")
    builder.add_edge(START, "long1")
    builder.add_edge("long1", "long2")
    builder.add_edge("a", "final")
    builder.add_edge("long2", "final")
    assert (await client.invoke(builder.compile(), {"x": 0}))["log"] == [
        "a",
        "long1",
        "long2",
        "final",
    ]


async def test_send_runs_a_node_once_per_packet_with_its_own_input(client: GraphClient) -> None:
    """Send packets from a conditional edge fan out, each with its argument as input."""

    def work(arg: dict) -> dict:
        return {"log": [f"w{arg['i']}"]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_conditional_edges(START, lambda s: [Send("work", {"i": i}) for i in range(3)])
    assert (await client.invoke(builder.compile(), {"x": 0}))["log"] == ["w0", "w1", "w2"]


async def test_command_updates_state_and_routes(client: GraphClient) -> None:
    """A node returning Command(update, goto) writes the update and runs goto next."""

    def router(state: State) -> Command:
        return Command(update={"x": 5}, goto="b")

    builder = StateGraph(State)
    builder.add_node("router", router)
    builder.add_node("b", appender("b"))
    builder.add_node("c", appender("c"))
    builder.add_edge(START, "router")
    assert await client.invoke(builder.compile(), {"x": 0}) == {"x": 5, "log": ["b"]}


async def test_loops_stop_at_the_recursion_limit(client: GraphClient) -> None:
    """A graph that never reaches END raises GraphRecursionError at recursion_limit."""
    builder = StateGraph(State)
    builder.add_node("spin", lambda s: {"x": s["x"] + 1})
    builder.add_edge(START, "spin")
    builder.add_edge("spin", "spin")
    with pytest.raises(GraphRecursionError, match="recursion limit of 7") as info:
        await client.invoke(builder.compile(), {"x": 0}, {"recursion_limit": 7})
    assert info.value.limit == 7


async def test_a_chain_as_long_as_the_limit_completes(client: GraphClient) -> None:
    """recursion_limit counts supersteps, START's included: N nodes in a chain need N + 1."""
    builder = StateGraph(State)
    names = [f"n{i}" for i in range(5)]
    builder.add_sequence([(n, appender(n)) for n in names])
    builder.add_edge(START, "n0")
    assert (await client.invoke(builder.compile(), {"x": 0}, {"recursion_limit": 6}))[
        "log"
    ] == names


async def test_a_one_node_graph_needs_a_limit_of_two(client: GraphClient) -> None:
    """As in LangGraph, recursion_limit=1 on a one-node graph raises: START's step counts."""
    builder = StateGraph(State)
    builder.add_node("only", appender("only"))
    builder.add_edge(START, "only")
    graph = builder.compile()
    with pytest.raises(GraphRecursionError, match="recursion limit of 1"):
        await client.invoke(graph, {"x": 0}, {"recursion_limit": 1})
    assert (await client.invoke(graph, {"x": 0}, {"recursion_limit": 2}))["log"] == ["only"]


async def test_conditional_loop_ends_at_end(client: GraphClient) -> None:
    """A loop whose path returns END stops."""
    builder = StateGraph(State)
    builder.add_node("inc", lambda s: {"x": s["x"] + 1})
    builder.add_edge(START, "inc")
    builder.add_conditional_edges("inc", lambda s: END if s["x"] >= 3 else "inc")
    assert (await client.invoke(builder.compile(), {"x": 0}))["x"] == 3


async def test_retry_policy_retries_transient_errors(client: GraphClient) -> None:
    """A node with a RetryPolicy is retried on errors its policy accepts."""
    attempts = []

    def flaky(state: State) -> dict:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return {"x": 1}

    builder = StateGraph(State)
    builder.add_node("flaky", flaky, retry_policy=RetryPolicy(initial_interval=0.001, jitter=False))
    builder.add_edge(START, "flaky")
    assert (await client.invoke(builder.compile(), {"x": 0}))["x"] == 1
    assert len(attempts) == 3


async def test_retry_policy_gives_up_after_max_attempts_and_skips_other_errors(
    client: GraphClient,
) -> None:
    """After max_attempts the error propagates; errors the policy rejects are not retried."""
    attempts = []

    def broken(state: State) -> dict:
        attempts.append(1)
        raise ConnectionError("down")

    builder = StateGraph(State)
    builder.add_node(
        "broken", broken, retry_policy=RetryPolicy(max_attempts=2, initial_interval=0.001)
    )
    builder.add_edge(START, "broken")
    with pytest.raises(ConnectionError):
        await client.invoke(builder.compile(), {"x": 0})
    assert len(attempts) == 2


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
async def test_a_node_error_carries_a_note_naming_the_task(client: GraphClient) -> None:
    """A node's error leaves the graph with LangGraph's note: the task's name and uuid-shaped id."""

    def broken(state: State) -> dict:
        raise ZeroDivisionError("boom")

    builder = StateGraph(State)
    builder.add_node("broken", broken)
    builder.add_edge(START, "broken")
    with pytest.raises(ZeroDivisionError) as caught:
        await client.invoke(builder.compile(), {"x": 0})
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) == 1
    assert re.fullmatch(r"During task with name 'broken' and id '[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}'", notes[0])


async def test_two_nodes_writing_one_plain_key_in_a_step_is_an_error_naming_both(
    client: GraphClient,
) -> None:
    """Concurrent writes to a key without reducer raise InvalidUpdateError naming nodes and key."""
    builder = StateGraph(State)
    builder.add_node("p", lambda s: {"x": 1})
    builder.add_node("q", lambda s: {"x": 2})
    builder.add_edge(START, "p")
    builder.add_edge(START, "q")
    with pytest.raises(InvalidUpdateError, match=r"At key 'x'.*'p', 'q'"):
        await client.invoke(builder.compile(), {"x": 0})


async def test_unknown_state_keys_in_a_node_update_are_dropped(client: GraphClient) -> None:
    """A key the state lacks is left out of a node's update, the others apply (as in LangGraph).

    A node may return keys of its own input schema that the graph keeps nowhere.
    """
    builder = StateGraph(State)
    builder.add_node("bad", lambda s: {"nope": 1, "x": 5})
    builder.add_edge(START, "bad")
    out = await client.invoke(builder.compile(), {"x": 0})
    assert out["x"] == 5 and "nope" not in out


async def test_keys_the_state_lacks_reach_the_nodes_edges_but_no_stream(
    client: GraphClient,
) -> None:
    """A node can pass its conditional edges extra keys (LangGraph's passthrough): the edge sees
    them with the state; the updates stream and the state never show them."""
    seen: list[dict] = []

    def route(state: dict) -> str:
        seen.append(state)
        return END

    builder = StateGraph(State)
    builder.add_node("n", lambda s: {"x": 1, "hint": "done"})
    builder.add_edge(START, "n")
    builder.add_conditional_edges("n", route)
    parts = await client.stream(builder.compile(), {"x": 0, "log": []}, stream_mode="updates")
    assert parts == [{"n": {"x": 1}}]
    assert seen == [{"x": 1, "log": [], "hint": "done"}]


async def test_an_edge_typed_with_the_state_schema_sees_only_the_state(
    client: GraphClient,
) -> None:
    """A path function whose state parameter is annotated with a schema reads that schema:
    the extra keys its node returned do not reach it (as in LangGraph)."""
    seen: list[dict] = []

    def route(state: State) -> str:
        seen.append(dict(state))
        return END

    builder = StateGraph(State)
    builder.add_node("n", lambda s: {"x": 1, "hint": "done"})
    builder.add_edge(START, "n")
    builder.add_conditional_edges("n", route)
    await client.invoke(builder.compile(), {"x": 0, "log": []})
    assert seen == [{"x": 1, "log": []}]


async def test_a_dict_of_runnables_is_a_node_that_runs_them_in_parallel(client: GraphClient) -> None:
    """add_node("n", {"x": runnable, "log": runnable}) runs both on the state, each filling its
    key of the update (LangGraph coerces the dict to a RunnableParallel)."""
    from langchain_core.runnables import RunnableLambda

    builder = StateGraph(State)
    builder.add_node(
        "n", {"x": RunnableLambda(lambda s: s["x"] + 1), "log": RunnableLambda(lambda s: ["n"])}
    )
    builder.add_edge(START, "n")
    assert await client.invoke(builder.compile(), {"x": 1, "log": []}) == {"x": 2, "log": ["n"]}


async def test_a_node_returning_a_non_dict_is_an_error_naming_it(client: GraphClient) -> None:
    """A node returning e.g. a string raises InvalidUpdateError naming the node."""
    builder = StateGraph(State)
    builder.add_node("bad", lambda s: "oops")
    builder.add_edge(START, "bad")
    with pytest.raises(InvalidUpdateError, match="node 'bad' returned str"):
        await client.invoke(builder.compile(), {"x": 0})


async def test_routing_to_an_unknown_node_at_run_time_is_an_error_naming_it(
    client: GraphClient,
) -> None:
    """A Command or path naming an unknown node raises InvalidUpdateError naming it."""
    builder = StateGraph(State)
    builder.add_node("a", lambda s: Command(goto="ghost"))
    builder.add_edge(START, "a")
    with pytest.raises(InvalidUpdateError, match="'ghost'"):
        await client.invoke(builder.compile(), {"x": 0})


def test_async_node_in_a_sync_run_is_a_clear_error() -> None:
    """invoke() on a graph with an async node says to use ainvoke()."""

    async def node(state: State) -> dict:
        return {}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    with pytest.raises(TypeError, match="ainvoke"):
        builder.compile().invoke({"x": 0})


async def test_none_input_without_a_checkpoint_is_an_empty_input_error(client: GraphClient) -> None:
    """invoke(None) on a fresh graph raises EmptyInputError (a ValueError)."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_edge(START, "a")
    with pytest.raises(ValueError, match="None"):
        await client.invoke(builder.compile(), None)


async def test_a_list_of_commands_applies_each(client: GraphClient) -> None:
    """A node may return several Commands; their updates and gotos all apply."""
    builder = StateGraph(State)
    builder.add_node(
        "a",
        lambda s: [Command(update={"log": ["one"]}), Command(update={"log": ["two"]}, goto="b")],
    )
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    assert (await client.invoke(builder.compile(), {"x": 0}))["log"] == ["one", "two", "b"]


async def test_command_as_input_updates_state_and_routes(client: GraphClient) -> None:
    """Command(update=..., goto=...) as a graph input writes the update and runs goto instead of the entry."""
    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    out = await client.invoke(builder.compile(), Command(update={"x": 3}, goto="b"))
    assert out == {"x": 3, "log": ["b"]}


def a_routed_to_b() -> StateGraph:
    """START -> "a", then an async conditional edge that picks "b"."""

    async def route(state: State) -> str:
        return "b"

    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.add_edge(START, "a")
    builder.add_conditional_edges("a", route, ["b", END])
    return builder


async def test_async_run_of_sync_nodes_and_async_branches() -> None:
    """ainvoke runs sync nodes in worker threads and awaits async path functions."""

    assert (await a_routed_to_b().compile().ainvoke({"x": 0}))["log"] == ["a", "b"]


async def test_an_async_conditional_entry_point_is_awaited() -> None:
    """The conditional edges from START may be async: ainvoke awaits them."""

    async def route(state: State) -> str:
        return "b" if state["x"] else "a"

    builder = StateGraph(State)
    builder.add_node("a", appender("a"))
    builder.add_node("b", appender("b"))
    builder.add_conditional_edges(START, route, ["a", "b"])
    graph = builder.compile()
    assert (await graph.ainvoke({"x": 0}))["log"] == ["a"]
    assert (await graph.ainvoke({"x": 1}))["log"] == ["b"]


async def test_aupdate_state_as_a_node_awaits_its_async_conditional_edge() -> None:
    """An update as a node is followed by that node's conditional edges; aupdate_state
    awaits an async one, and the node it picks runs next."""
    from threadloom.checkpoint.memory import InMemorySaver

    graph = a_routed_to_b().compile(checkpointer=InMemorySaver(), interrupt_before=["a"])
    config = {"configurable": {"thread_id": "1"}}
    await graph.ainvoke({"x": 0}, config)
    await graph.aupdate_state(config, {"log": ["by hand"]}, as_node="a")
    assert (await graph.aget_state(config)).next == ("b",)
    assert (await graph.ainvoke(None, config))["log"] == ["by hand", "b"]


async def test_a_node_that_raises_cancelled_error_fails_the_run() -> None:
    """A node whose own body raises ``asyncio.CancelledError`` fails like any failing node:
    the run raises ``NodeCancelledError`` naming it (it does not end quietly as cancelled).

    Under ``ainvoke``, telling a node's own CancelledError from a cancellation of the run
    needs ``Task.cancelling()`` (Python 3.11+); on 3.10 it stays a cancellation of the run.
    ``invoke`` tells them apart on every version."""

    async def boom(state: State) -> dict:
        raise asyncio.CancelledError("from the node")

    def sync_boom(state: State) -> dict:
        raise asyncio.CancelledError("from the node")

    for failing in (boom, sync_boom):
        builder = StateGraph(State)
        builder.add_node("ok", appender("ok"))
        builder.add_node("boom", failing)
        builder.add_edge(START, "ok")
        builder.add_edge(START, "boom")
        if sys.version_info < (3, 11):
            with pytest.raises(asyncio.CancelledError):
                await builder.compile().ainvoke({"x": 0})
            continue
        with pytest.raises(NodeCancelledError) as caught:
            await builder.compile().ainvoke({"x": 0})
        assert caught.value.node == "boom"
    with pytest.raises(NodeCancelledError):
        builder.compile().invoke({"x": 0})


async def test_cancelling_an_async_run_still_cancels_it() -> None:
    """Cancelling the caller's task cancels the run (``CancelledError``), not a node failure."""

    async def slow(state: State) -> dict:
        await asyncio.sleep(5)
        return {"log": ["slow"]}

    builder = StateGraph(State)
    builder.add_node("slow", slow)
    builder.add_edge(START, "slow")
    run = asyncio.ensure_future(builder.compile().ainvoke({"x": 0}))
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
