"""Stream modes: values, updates, messages, custom, debug, several at once, subgraphs."""

from __future__ import annotations

import asyncio
import operator
import time
from typing import Annotated, Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from typing_extensions import TypedDict

from threadloom.config import get_stream_writer
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.graph import GraphClient


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def two_step_graph():
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile()


def subgraph_node_graph(checkpointer: Any = None) -> Any:
    """A graph whose one node "sub" is a subgraph with one node "inner_node"."""
    inner = StateGraph(State)
    inner.add_node("inner_node", lambda s: {"log": ["inner"]})
    inner.add_edge(START, "inner_node")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    return outer.compile(checkpointer=checkpointer)


def chat_graph(reply: str = "hello there friend"):
    model = GenericFakeChatModel(messages=iter([AIMessage(reply)] * 5))

    def call(state: MessagesState) -> dict:
        return {"messages": model.invoke(state["messages"])}

    builder = StateGraph(MessagesState)
    builder.add_node("call", call)
    builder.add_edge(START, "call")
    return builder.compile()


async def test_values_mode_yields_the_state_after_input_and_each_step(client: GraphClient) -> None:
    """stream_mode='values' yields the whole state after the input and after every step."""
    parts = await client.stream(two_step_graph(), {"x": 0}, stream_mode="values")
    assert parts == [
        {"x": 0, "log": []},
        {"x": 1, "log": ["a"]},
        {"x": 1, "log": ["a", "b"]},
    ]


async def test_updates_mode_is_the_default_and_yields_each_nodes_update(
    client: GraphClient,
) -> None:
    """stream() yields {node: update} per node by default."""
    assert await client.stream(two_step_graph(), {"x": 0}) == [
        {"a": {"x": 1, "log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


async def test_a_list_of_modes_yields_mode_part_pairs(client: GraphClient) -> None:
    """With a list of modes each part is a (mode, part) pair."""
    parts = await client.stream(two_step_graph(), {"x": 0}, stream_mode=["updates", "values"])
    assert [mode for mode, _ in parts] == ["values", "updates", "values", "updates", "values"]


async def test_invoke_with_a_stream_mode_returns_the_list_of_parts(client: GraphClient) -> None:
    """invoke(stream_mode='updates') returns the parts as a list."""
    assert len(await client.invoke(two_step_graph(), {"x": 0}, stream_mode="updates")) == 2


async def test_custom_mode_streams_what_nodes_write(client: GraphClient) -> None:
    """Data sent through the writer parameter or get_stream_writer() is streamed as custom."""

    def node(state: State, writer) -> dict:
        writer({"progress": 1})
        get_stream_writer()({"progress": 2})
        return {"x": 1}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    graph = builder.compile()
    assert await client.stream(graph, {"x": 0}, stream_mode="custom") == [
        {"progress": 1},
        {"progress": 2},
    ]
    # the writer is silent when not streamed
    assert await client.invoke(graph, {"x": 0}) == {"x": 1, "log": []}


async def test_messages_mode_streams_chat_model_tokens_with_metadata(client: GraphClient) -> None:
    """stream_mode='messages' yields the model's chunks as they arrive, with the node's metadata."""
    parts = await client.stream(
        chat_graph(), {"messages": [("user", "hi")]}, stream_mode="messages"
    )
    assert "".join(chunk.content for chunk, _ in parts) == "hello there friend"
    assert len(parts) > 1
    assert all(meta["langgraph_node"] == "call" for _, meta in parts)


async def test_messages_mode_sends_node_returned_messages_that_were_not_streamed(
    client: GraphClient,
) -> None:
    """A message a node returns without a model call is streamed once, whole."""
    builder = StateGraph(MessagesState)
    builder.add_node("n", lambda s: {"messages": [AIMessage("plain")]})
    builder.add_edge(START, "n")
    parts = await client.stream(builder.compile(), {"messages": ["hi"]}, stream_mode="messages")
    assert [(m.content, meta["langgraph_node"]) for m, meta in parts] == [("plain", "n")]


async def test_debug_mode_reports_tasks_and_results(client: GraphClient) -> None:
    """stream_mode='debug' yields task and task_result events."""
    kinds = [
        p["type"] for p in await client.stream(two_step_graph(), {"x": 0}, stream_mode="debug")
    ]
    assert kinds == ["task", "task_result", "task", "task_result"]


async def test_task_results_show_state_writes_and_interrupts_as_langgraph_does(
    client: GraphClient,
) -> None:
    """A ``task_result`` payload (``tasks`` mode, ``debug`` mode) holds the node's state
    writes as a dict (routing writes left out, ``{}`` for a node that wrote nothing, a key
    written twice as ``{"$writes": [...]}``) and its interrupts as dicts, with the step
    the task ran in."""
    from threadloom.checkpoint.memory import InMemorySaver
    from threadloom.types import Command, interrupt

    def ask(state: State) -> Any:
        interrupt("go?")
        return {"log": ["c"]}

    builder = StateGraph(State)
    builder.add_node(
        "a", lambda s: [Command(update={"log": ["a1"]}), Command(update={"log": ["a2"]})]
    )
    builder.add_node("quiet", lambda s: None)
    builder.add_node("ask", ask)
    builder.add_edge(START, "a")
    builder.add_edge("a", "quiet")
    builder.add_edge("quiet", "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    parts = await client.stream(graph, {"x": 0}, config, stream_mode="tasks")
    results = [p for p in parts if "result" in p]
    assert [(p["name"], p["result"]) for p in results] == [
        ("a", {"log": {"$writes": [["a1"], ["a2"]]}}),
        ("quiet", {}),
        ("ask", {}),
    ]
    [asked] = results[-1]["interrupts"]
    assert asked["value"] == "go?" and set(asked) == {"value", "id", "response_schema"}
    debug = await client.stream(graph, Command(resume="y"), config, stream_mode="debug")
    steps = [(p["type"], p["step"]) for p in debug]
    # the checkpoint resumed (ask waiting on its interrupt), the task, the step's checkpoint
    assert steps == [("checkpoint", 2), ("task", 3), ("task_result", 3), ("checkpoint", 3)]
    [waiting] = debug[0]["payload"]["tasks"]
    assert waiting["name"] == "ask" and [i["value"] for i in waiting["interrupts"]] == ["go?"]


async def test_subgraph_parts_carry_their_namespace(client: GraphClient) -> None:
    """With subgraphs=True, parts from inside a subgraph come with its namespace."""
    parts = await client.stream(
        subgraph_node_graph(), {"x": 0}, stream_mode="updates", subgraphs=True
    )
    namespaces = [ns for ns, _ in parts]
    assert namespaces[0][0].startswith("sub:")
    assert parts[-1] == ((), {"sub": {"x": 0, "log": ["inner"]}})


async def test_unknown_stream_mode_is_a_value_error(client: GraphClient) -> None:
    """An unknown stream_mode is rejected with a ValueError naming it."""
    with pytest.raises(ValueError, match="'loud'"):
        await client.stream(two_step_graph(), {"x": 0}, stream_mode="loud")


async def test_checkpoints_and_tasks_modes_report_saved_checkpoints_and_task_events(
    client: GraphClient,
) -> None:
    """'checkpoints' yields each saved checkpoint; 'tasks' yields task starts and results."""
    from threadloom.checkpoint.memory import InMemorySaver

    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    parts = await client.stream(graph, {"x": 0}, config, stream_mode=["checkpoints", "tasks"])
    checkpoints = [p for mode, p in parts if mode == "checkpoints"]
    assert [c["next"] for c in checkpoints] == [["__start__"], ["a"], []]
    assert checkpoints[-1]["values"] == {"x": 0, "log": ["a"]}
    tasks = [p for mode, p in parts if mode == "tasks"]
    assert [("input" in t, "result" in t) for t in tasks] == [(True, False), (False, True)]


async def test_a_checkpoint_event_lists_the_tasks_that_run_next_as_its_history_does(
    client: GraphClient,
) -> None:
    """A checkpoint event's ``tasks`` are the next tasks as the thread's history shows them:
    id, name, interrupts, and for a subgraph node the config of the subgraph's namespace."""
    from threadloom.checkpoint.memory import InMemorySaver

    child = StateGraph(State)
    child.add_node("inner", lambda s: {"log": ["inner"]})
    child.add_edge(START, "inner")
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"log": ["a"]})
    builder.add_node("sub", child.compile())
    builder.add_edge(START, "a")
    builder.add_edge("a", "sub")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    events = await client.stream(graph, {"x": 0}, config, stream_mode="checkpoints")
    history = list(reversed(await client.get_state_history(graph, config)))
    assert len(events) == len(history) == 4
    for event, snapshot in zip(events, history, strict=True):
        assert event["tasks"] == [
            {"id": t.id, "name": t.name, "interrupts": (), "state": t.state} for t in snapshot.tasks
        ]
    (sub_task,) = events[2]["tasks"]
    assert sub_task["name"] == "sub"
    assert sub_task["state"] == {
        "configurable": {"thread_id": "1", "checkpoint_ns": f"sub:{sub_task['id']}"}
    }
    assert events[-1]["tasks"] == []


async def test_checkpoint_events_of_an_exit_durability_run_name_the_one_checkpoint_saved(
    client: GraphClient,
) -> None:
    """With ``durability="exit"`` the steps' checkpoints are held back and only the last is
    saved: the last checkpoint event's config is that saved checkpoint's."""
    from threadloom.checkpoint.memory import InMemorySaver

    graph = two_step_graph()
    graph.checkpointer = InMemorySaver()
    config = {"configurable": {"thread_id": "1"}}
    events = await client.stream(
        graph, {"x": 0}, config, stream_mode="checkpoints", durability="exit"
    )
    (saved,) = await client.get_state_history(graph, config)
    ids = [e["config"]["configurable"]["checkpoint_id"] for e in events]
    assert len(set(ids)) == len(ids) == 4
    assert events[-1]["config"]["configurable"] == saved.config["configurable"]


async def test_a_subgraphs_checkpoint_events_carry_its_checkpoint_map(client: GraphClient) -> None:
    """A subgraph's checkpoint events name the checkpoints of the graphs above it
    (``checkpoint_map``), as the subgraph's history does."""
    from threadloom.checkpoint.memory import InMemorySaver

    graph = subgraph_node_graph(InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    parts = await client.stream(graph, {"x": 0}, config, stream_mode="checkpoints", subgraphs=True)
    inner = [event for ns, event in parts if ns]
    assert inner
    for event in inner:
        conf = event["config"]["configurable"]
        assert set(conf["checkpoint_map"]) == {"", conf["checkpoint_ns"]}
        assert conf["checkpoint_map"][conf["checkpoint_ns"]] == conf["checkpoint_id"]


def slow_and_fast_graph() -> Any:
    """START -> "slow" (50 ms) and "fast" in one step; both -> "last"."""

    def slow(state: State) -> dict:
        time.sleep(0.05)
        return {"log": ["slow"]}

    builder = StateGraph(State)
    builder.add_node("slow", slow)
    builder.add_node("fast", lambda s: {"log": ["fast"]})
    builder.add_node("last", lambda s: {"log": ["last"]})
    builder.add_edge(START, "slow")
    builder.add_edge(START, "fast")
    builder.add_edge(["slow", "fast"], "last")
    return builder.compile()


async def test_a_steps_updates_stream_in_the_order_its_tasks_finish(client: GraphClient) -> None:
    """Each task's update is streamed when it finishes, as LangGraph does: a fast node's
    before a slow one's of the same step (the state still applies them in its order)."""
    parts = await client.stream(slow_and_fast_graph(), {"x": 0}, stream_mode="updates")
    assert parts == [
        {"fast": {"log": ["fast"]}},
        {"slow": {"log": ["slow"]}},
        {"last": {"log": ["last"]}},
    ]


async def test_a_step_announces_all_its_tasks_then_reports_each_as_it_finishes(
    client: GraphClient,
) -> None:
    """debug: every task of a step is announced (in task order) before any runs; then each
    task's update and its task result come together, when it finishes, as in LangGraph."""
    parts = await client.stream(slow_and_fast_graph(), {"x": 0}, stream_mode=["updates", "debug"])
    shape = [
        (mode, p["type"], p["payload"]["name"]) if mode == "debug" else (mode, next(iter(p)))
        for mode, p in parts
    ]
    assert shape == [
        ("debug", "task", "slow"),
        ("debug", "task", "fast"),
        ("updates", "fast"),
        ("debug", "task_result", "fast"),
        ("updates", "slow"),
        ("debug", "task_result", "slow"),
        ("debug", "task", "last"),
        ("updates", "last"),
        ("debug", "task_result", "last"),
    ]


async def test_with_subgraphs_parts_come_as_they_are_made() -> None:
    """With ``subgraphs=True`` a parent's update is not held back until the step ends: it
    comes between the parts of a subgraph that is still running."""

    async def first(state: State) -> dict:
        return {"log": ["first"]}

    async def later(state: State) -> dict:
        await asyncio.sleep(0.1)
        return {"log": ["later"]}

    async def quick(state: State) -> dict:
        await asyncio.sleep(0.03)
        return {"log": ["quick"]}

    inner = StateGraph(State)
    inner.add_sequence([("first", first), ("later", later)])
    inner.add_edge(START, "first")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_node("quick", quick)
    outer.add_edge(START, "sub")
    outer.add_edge(START, "quick")
    parts = [p async for p in outer.compile().astream({"x": 0}, subgraphs=True)]
    assert [(bool(ns), next(iter(update))) for ns, update in parts] == [
        (True, "first"),
        (False, "quick"),
        (True, "later"),
        (False, "sub"),
    ]


async def test_a_subgraphs_static_interrupt_is_reported_by_its_parent_only(
    client: GraphClient,
) -> None:
    """A subgraph stopping at ``interrupt_before`` streams nothing in its own namespace;
    the parent reports ``{"__interrupt__": ()}`` on ``updates`` and no state on ``values``."""
    from threadloom.checkpoint.memory import InMemorySaver

    inner = StateGraph(State)
    inner.add_sequence([("one", lambda s: {"log": ["one"]}), ("two", lambda s: {"log": ["two"]})])
    inner.add_edge(START, "one")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile(interrupt_before=["two"]))
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    updates = await client.stream(graph, {"x": 0}, config, subgraphs=True)
    assert [(bool(ns), u) for ns, u in updates] == [
        (True, {"one": {"log": ["one"]}}),
        (False, {"__interrupt__": ()}),
    ]
    config = {"configurable": {"thread_id": "2"}}
    values = await client.stream(graph, {"x": 0}, config, subgraphs=True, stream_mode="values")
    assert all("__interrupt__" not in v for _, v in values)


async def test_a_resumed_step_streams_the_updates_it_reuses_first(client: GraphClient) -> None:
    """Resuming a step, the updates of its tasks that had finished stream first (marked
    ``cached``), before those of the tasks that run now."""
    from threadloom.checkpoint.memory import InMemorySaver

    broken = [True]

    def flaky(state: State) -> dict:
        if broken[0]:
            raise RuntimeError("boom")
        return {"log": ["flaky"]}

    builder = StateGraph(State)
    builder.add_node("flaky", flaky)
    builder.add_node("fast", lambda s: {"log": ["fast"]})
    builder.add_edge(START, "flaky")
    builder.add_edge(START, "fast")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    with pytest.raises(RuntimeError):
        await client.stream(graph, {"x": 0}, config)
    broken[0] = False
    parts = await client.stream(graph, None, config)
    assert parts == [
        {"fast": {"log": ["fast"]}, "__metadata__": {"cached": True}},
        {"flaky": {"log": ["flaky"]}},
    ]


async def test_messages_mode_does_not_repeat_input_messages_a_subgraph_returns(
    client: GraphClient,
) -> None:
    """Messages a subgraph hands back unchanged from its input are not streamed again."""
    inner = StateGraph(MessagesState)
    inner.add_node("reply", lambda s: {"messages": [AIMessage("inner reply")]})
    inner.add_edge(START, "reply")
    outer = StateGraph(MessagesState)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    parts = await client.stream(outer.compile(), {"messages": ["question"]}, stream_mode="messages")
    assert [m.content for m, _ in parts] == ["inner reply"]
