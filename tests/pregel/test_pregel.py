"""The low-level API: ``Pregel`` graphs of channels and ``NodeBuilder`` nodes."""

from __future__ import annotations

import asyncio
import operator
from typing import Any

import pytest
from langchain_core.runnables import RunnableLambda, RunnableParallel

from threadloom.channels import BinaryOperatorAggregate, LastValue, Topic
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import GraphBuildError, NodeTimeoutError
from threadloom.pregel import NodeBuilder, Pregel
from threadloom.testing.graph import GraphClient
from threadloom.types import RetryPolicy, TimeoutPolicy


def _chain() -> Pregel:
    one = NodeBuilder().subscribe_only("input").do(lambda x: x + 1).write_to("output", "between")
    two = NodeBuilder().subscribe_only("between").do(lambda x: x + 1).write_to("output")
    return Pregel(
        nodes={"one": one, "two": two},
        channels={"input": LastValue(int), "between": LastValue(int), "output": LastValue(int)},
        input_channels="input",
        output_channels="output",
        stream_channels=["output", "between"],
    )


async def test_nodes_run_when_their_channels_change(client: GraphClient) -> None:
    """A node runs in the step after a channel it subscribes to was written."""
    assert await client.invoke(_chain(), 2) == 4


async def test_stream_shows_the_streamed_channels(client: GraphClient) -> None:
    """``values`` shows the stream channels after each step that wrote them; ``updates`` the writes."""
    app = _chain()
    assert await client.stream(app, 2) == [{"between": 3, "output": 3}, {"between": 3, "output": 4}]
    assert await client.stream(app, 2, stream_mode="updates") == [
        {"one": {"between": 3, "output": 3}},
        {"two": {"output": 4}},
    ]


async def test_write_to_values_and_mappers(client: GraphClient) -> None:
    """``write_to(name=value)`` writes a value, ``write_to(name=fn)`` writes ``fn(output)``."""
    node = (
        NodeBuilder()
        .subscribe_only("n")
        .do(lambda x: x * 2)
        .write_to("out", fixed=5, plus=lambda x: x + 1)
    )
    app = Pregel(
        nodes={"node": node},
        channels={k: LastValue(int) for k in ("n", "out", "fixed", "plus")},
        input_channels="n",
        output_channels=["out", "fixed", "plus"],
    )
    assert await client.invoke(app, 4) == {"out": 8, "fixed": 5, "plus": 9}


async def test_reducer_channel_keeps_a_running_total(client: GraphClient) -> None:
    """``read_from`` adds channels to the input dict; a reducer channel persists across turns."""
    node = (
        NodeBuilder()
        .subscribe_to("input")
        .read_from("total")
        .do(lambda s: s["input"] + s.get("total", 0))
        .write_to("output", "total")
    )
    app = Pregel(
        nodes={"add": node},
        channels={
            "input": LastValue(int),
            "output": LastValue(int),
            "total": BinaryOperatorAggregate(int, operator.add),
        },
        input_channels="input",
        output_channels="output",
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "t"}}
    assert await client.invoke(app, 2, config) == 2
    assert await client.invoke(app, 3, config) == 5
    assert (await client.get_state(app, config)).values == {"input": 3, "output": 5, "total": 7}


async def test_async_steps_and_retries() -> None:
    """Async functions in ``do`` are awaited; ``add_retry_policies`` retries the node."""
    failures = [1]

    async def flaky(x: int) -> int:
        await asyncio.sleep(0)
        if failures:
            failures.pop()
            raise ConnectionError("again")
        return x * 10

    node = (
        NodeBuilder()
        .subscribe_only("a")
        .do(flaky)
        .write_to("b")
        .add_retry_policies(RetryPolicy(initial_interval=0.0, jitter=False))
    )
    app = Pregel(
        nodes={"n": node},
        channels={"a": LastValue(int), "b": LastValue(int)},
        input_channels="a",
        output_channels="b",
    )
    assert await app.ainvoke(3) == 30


def test_fan_in_with_a_topic() -> None:
    """Several nodes writing one Topic in a step are all collected."""
    nodes: dict[str, Any] = {
        f"n{i}": NodeBuilder().subscribe_only("go").do(lambda x, i=i: x + i).write_to("bag")
        for i in range(3)
    }
    app = Pregel(
        nodes=nodes,
        channels={"go": LastValue(int), "bag": Topic(int)},
        input_channels="go",
        output_channels="bag",
    )
    assert sorted(app.invoke(10)) == [10, 11, 12]


def test_unknown_channels_are_refused() -> None:
    """A node naming a channel the graph does not have is a build error."""
    node = NodeBuilder().subscribe_only("missing").write_to("b")
    with pytest.raises(GraphBuildError, match="missing"):
        Pregel(
            nodes={"n": node},
            channels={"b": LastValue(int)},
            input_channels="b",
            output_channels="b",
        )


def test_writes_between_steps_and_a_graph_retry_policy() -> None:
    """``write_to`` between two ``do`` steps writes the value at that point; Pregel(retry_policy=) applies."""
    calls: list[int] = []

    def check(total: int) -> int:
        calls.append(total)
        if len(calls) == 1:
            raise ConnectionError("once")
        return total

    node = NodeBuilder().subscribe_only("n").do(lambda n: n + 1).write_to("out").do(check)
    app = Pregel(
        nodes={"node": node},
        channels={"n": LastValue(int), "out": LastValue(int)},
        input_channels="n",
        output_channels="out",
        retry_policy=RetryPolicy(initial_interval=0.0, jitter=False),
    )
    assert app.invoke(1) == 2
    assert calls == [2, 2]


def test_input_and_output_schemas_follow_the_channel_types() -> None:
    """The schemas of a Pregel graph come from its input and output channels' types."""
    app = _chain()
    assert app.input_schema.model_json_schema() == {"title": "LangGraphInput", "type": "integer"}
    assert app.get_output_jsonschema() == {"type": "integer", "title": "LangGraphOutput"}
    assert app.get_context_jsonschema() is None


def _timed(step: Any) -> Pregel:
    node = (
        NodeBuilder()
        .subscribe_only("input")
        .do(step)
        .set_timeout(TimeoutPolicy(run_timeout=0.05))
        .write_to("output")
    )
    return Pregel(
        nodes={"timed": node},
        channels={"input": LastValue(int), "output": LastValue(int)},
        input_channels="input",
        output_channels="output",
    )


def test_a_timed_node_must_be_able_to_be_cancelled() -> None:
    """A node with a timeout is refused when it is built unless every step it runs has an
    async body: a sync function, a RunnableLambda of one (bound with a config or not) and
    a parallel with a sync branch cannot be cancelled."""

    def sync(value: int) -> int:
        return value + 1

    async def later(value: int) -> int:
        return value + 1

    for step in (
        sync,
        RunnableLambda(sync),
        RunnableLambda(sync).with_config(tags=["wrapped"]),
        RunnableParallel(a=RunnableLambda(sync), b=RunnableLambda(later)),
    ):
        with pytest.raises(GraphBuildError, match="only supported for async nodes"):
            _timed(step)
    _timed(later)
    _timed(RunnableLambda(later).with_config(tags=["wrapped"]))


async def test_a_timed_runnable_node_is_awaited_and_cancelled_at_its_timeout() -> None:
    """A runnable with an async body under a timeout runs through ``ainvoke`` and is
    cancelled when the time passes."""

    async def slow(value: int) -> int:
        await asyncio.sleep(1)
        return value + 1

    async def quick(value: int) -> int:
        return value + 1

    with pytest.raises(NodeTimeoutError):
        await _timed(RunnableLambda(slow)).ainvoke(1)
    assert await _timed(RunnableLambda(quick)).ainvoke(1) == 2


def _inbox_then_output(saver: InMemorySaver) -> Pregel:
    """input -> "one" -> inbox -> "two" -> output, pausing after "one"."""
    one = NodeBuilder().subscribe_only("input").do(lambda x: x + 1).write_to("inbox")
    two = NodeBuilder().subscribe_only("inbox").do(lambda x: x + 1).write_to("output")
    return Pregel(
        nodes={"one": one, "two": two},
        channels={"inbox": LastValue(int), "output": LastValue(int), "input": LastValue(int)},
        input_channels="input",
        output_channels="output",
        checkpointer=saver,
        interrupt_after_nodes=["one"],
    )


async def test_a_run_that_writes_no_output_returns_none(client: GraphClient) -> None:
    """A run that neither resumes nor writes the output channel returns None, even when the
    thread holds an output from an earlier run (LangGraph returns the last output streamed)."""
    app = _inbox_then_output(InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    assert await client.invoke(app, 2, config) is None
    assert await client.invoke(app, None, config) == 4
    assert await client.invoke(app, 20, config) is None
    assert await client.invoke(app, None, config) == 22


async def test_new_input_drops_the_tasks_the_thread_still_had_to_run(client: GraphClient) -> None:
    """Input sent to a thread paused before "two" drops that task: only "one" is next."""
    app = _inbox_then_output(InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    await client.invoke(app, 20, config)
    assert (await client.get_state(app, config)).next == ("two",)
    await client.invoke(app, 3, config)
    state = await client.get_state(app, config)
    assert state.next == ("two",)
    assert state.values == {"input": 3, "inbox": 4}
    history = await client.get_state_history(app, config)
    assert [(s.metadata["source"], s.next) for s in history[:2]] == [("loop", ("two",)), ("input", ("one",))]
