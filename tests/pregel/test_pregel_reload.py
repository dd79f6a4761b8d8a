"""Which nodes of a low-level graph a saved thread still has to run.

A node subscribed to a channel that keeps its value (``LastValue``, a reducer) is
pending only while that channel holds a version newer than the one the node last
read: after its run, a reloaded thread does not show it in ``next`` again.
"""

from __future__ import annotations

import operator
from typing import Any

import pytest

from threadloom.channels import BinaryOperatorAggregate, LastValue
from threadloom.pregel import NodeBuilder, Pregel
from threadloom.testing.graph import GraphClient


def _refuse_big(value: int) -> int:
    if value > 10:
        raise ValueError("too big")
    return value


def _adder(saver: Any) -> Pregel:
    node = (
        NodeBuilder()
        .subscribe_to("input")
        .read_from("total")
        .do(lambda s: s["input"] + s["total"])
        .write_to("output", "total")
        .do(_refuse_big)
    )
    return Pregel(
        nodes={"add": node},
        channels={
            "input": LastValue(int),
            "output": LastValue(int),
            "total": BinaryOperatorAggregate(int, operator.add),
        },
        input_channels="input",
        output_channels="output",
        checkpointer=saver,
    )


def _chain(saver: Any, **kwargs: Any) -> Pregel:
    one = NodeBuilder().subscribe_only("input").do(lambda x: x + 1).write_to("middle")
    two = NodeBuilder().subscribe_only("middle").do(lambda x: x * 10).write_to("output")
    return Pregel(
        nodes={"one": one, "two": two},
        channels={"input": LastValue(int), "middle": LastValue(int), "output": LastValue(int)},
        input_channels="input",
        output_channels="output",
        checkpointer=saver,
        **kwargs,
    )


async def test_a_node_that_read_its_input_is_not_pending_after_the_run(
    client: GraphClient, saver: Any
) -> None:
    app = _adder(saver)
    config = {"configurable": {"thread_id": "1"}}
    assert await client.invoke(app, 2, config) == 2
    assert (await client.get_state(app, config)).next == ()
    assert await client.invoke(app, 3, config) == 5
    state = await client.get_state(app, config)
    assert (state.values["total"], state.next) == (7, ())


async def test_a_failed_node_stays_pending_until_new_input_runs_it(
    client: GraphClient, saver: Any
) -> None:
    app = _adder(saver)
    config = {"configurable": {"thread_id": "1"}}
    await client.invoke(app, 2, config)
    await client.invoke(app, 3, config)
    with pytest.raises(ValueError, match="too big"):
        await client.invoke(app, 4, config)
    state = await client.get_state(app, config)
    assert (state.values["total"], state.values["input"], state.next) == (7, 4, ("add",))
    assert await client.invoke(app, 2, config) == 9
    state = await client.get_state(app, config)
    assert (state.values["total"], state.next) == (16, ())
    history = await client.get_state_history(app, config)
    assert [(h.metadata["source"], h.next) for h in history] == [
        ("loop", ()),
        ("input", ("add",)),
        ("input", ("add",)),
        ("loop", ()),
        ("input", ("add",)),
        ("loop", ()),
        ("input", ("add",)),
    ]


async def test_a_reloaded_chain_has_nothing_left_to_run(client: GraphClient, saver: Any) -> None:
    """A graph object that never ran the thread (nothing in memory) plans from the saved versions."""
    config = {"configurable": {"thread_id": "c"}}
    assert await client.invoke(_chain(saver), 1, config) == 20
    fresh = _chain(saver)
    state = await client.get_state(fresh, config)
    assert (state.values, state.next) == ({"input": 1, "middle": 2, "output": 20}, ())
    assert [h.next for h in await client.get_state_history(fresh, config)] == [
        (),
        ("two",),
        ("one",),
    ]
    assert await client.invoke(fresh, 5, config) == 60
    assert (await client.get_state(_chain(saver), config)).next == ()


async def test_a_chain_stopped_before_its_second_node_resumes_only_that_node(
    client: GraphClient, saver: Any
) -> None:
    config = {"configurable": {"thread_id": "b"}}
    await client.invoke(_chain(saver, interrupt_before_nodes=["two"]), 1, config)
    fresh = _chain(saver, interrupt_before_nodes=["two"])
    assert (await client.get_state(fresh, config)).next == ("two",)
    assert await client.invoke(fresh, None, config) == 20
    assert (await client.get_state(fresh, config)).next == ()


async def test_an_update_as_a_node_writes_what_the_node_writes(
    client: GraphClient, saver: Any
) -> None:
    """The value goes through every ``write_to`` of the node (values, mappers, the output)."""
    node = (
        NodeBuilder()
        .subscribe_only("input")
        .do(lambda x: x + 1)
        .write_to("output", "total", doubled=lambda x: 2 * x, tag="set")
    )
    app = Pregel(
        nodes={"n": node},
        channels={
            "input": LastValue(int),
            "output": LastValue(int),
            "doubled": LastValue(int),
            "tag": LastValue(str),
            "total": BinaryOperatorAggregate(int, operator.add),
        },
        input_channels="input",
        output_channels="output",
        checkpointer=saver,
    )
    config = {"configurable": {"thread_id": "u"}}
    assert await client.invoke(app, 1, config) == 2
    await client.update_state(app, config, 10)
    state = await client.get_state(app, config)
    assert state.values == {"input": 1, "output": 10, "doubled": 20, "tag": "set", "total": 12}
    assert (state.metadata["source"], state.next) == ("update", ())


async def test_an_update_does_not_stand_for_the_run_of_a_pending_node(
    client: GraphClient, saver: Any
) -> None:
    """Updating a checkpoint whose node is still to run leaves that node pending."""
    app = _adder(saver)
    config = {"configurable": {"thread_id": "p"}}
    await client.invoke(app, 2, config)
    with pytest.raises(ValueError, match="too big"):
        await client.invoke(app, 9, config)
    assert (await client.get_state(app, config)).next == ("add",)
    updated = await client.update_state(app, config, -3)
    state = await client.get_state(app, updated)
    assert (state.values["total"], state.values["output"], state.next) == (-1, -3, ("add",))
    assert await client.invoke(app, None, config) == 9 - 1
    state = await client.get_state(app, config)
    assert (state.values["total"], state.next) == (7, ())


async def test_checkpoint_events_show_the_streamed_channels(client: GraphClient, saver: Any) -> None:
    """A low-level graph's checkpoint events show its stream channels (one: its value alone)."""
    app = _chain(saver, stream_channels="output")
    parts = await client.stream(app, 1, {"configurable": {"thread_id": "e"}}, stream_mode="checkpoints")
    assert [p["values"] for p in parts] == [None, None, 20]
