"""What a node sees of its run, as LangGraph gives it: its own namespace, the run's address in
its metadata; and what a subgraph's checkpoints keep of it."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import interrupt


class State(TypedDict):
    x: int


def recording(seen: list[RunnableConfig]) -> Any:
    def node(state: State, config: RunnableConfig) -> State:
        seen.append(config)
        return {"x": state["x"] + 1}

    return node


async def test_a_node_config_names_the_tasks_namespace(client: GraphClient) -> None:
    """``configurable["checkpoint_ns"]`` is the task's own namespace (``node:<task id>``,
    a subgraph's joined after its parent's with ``|``); the metadata carries the thread,
    and a subgraph's node also the namespace its graph was called in."""
    seen: list[RunnableConfig] = []
    inner = StateGraph(State)
    inner.add_node("inner", recording(seen))
    inner.add_edge(START, "inner")
    outer = StateGraph(State)
    outer.add_node("first", recording(seen))
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "first")
    outer.add_edge("first", "sub")
    graph = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}, "metadata": {"team": "a"}}
    await client.invoke(graph, {"x": 0}, config)
    first, inner_node = seen
    ns = first["configurable"]["checkpoint_ns"]
    assert ns.startswith("first:") and ns == first["metadata"]["langgraph_checkpoint_ns"]
    assert list(first["metadata"])[:2] == ["team", "thread_id"]
    inner_ns = inner_node["configurable"]["checkpoint_ns"]
    sub_ns, inner_part = inner_ns.split("|")
    assert sub_ns.startswith("sub:") and inner_part.startswith("inner:")
    assert inner_node["metadata"]["checkpoint_ns"] == sub_ns


async def test_messages_metadata_carries_the_runs_address(client: GraphClient) -> None:
    """The run's thread, checkpoint, task, run, assistant and graph ids given in
    ``configurable`` reach ``messages`` metadata; other values (secrets, dicts) do not."""
    builder = StateGraph(MessagesState)
    builder.add_node("talk", lambda state: {"messages": [AIMessage("hi", id="m1")]})
    builder.add_edge(START, "talk")
    configurable = {
        "thread_id": "th",
        "checkpoint_id": "c-1",
        "checkpoint_ns": "ns-1",
        "task_id": "task-1",
        "run_id": "run-1",
        "assistant_id": "a-1",
        "graph_id": "g-1",
        "some_api_key": "secret",
        "settings": {"nested": True},
    }
    parts = await client.stream(
        builder.compile(),
        {"messages": []},
        {"configurable": configurable},
        stream_mode="messages",
    )
    [(_, metadata)] = parts
    for key in ("thread_id", "checkpoint_id", "checkpoint_ns", "task_id", "run_id"):
        assert metadata[key] == configurable[key]
    assert "some_api_key" not in metadata and "settings" not in metadata


async def test_a_subgraph_checkpoint_keeps_no_run_keys_and_maps_its_parent(
    client: GraphClient,
) -> None:
    """A subgraph's checkpoint metadata holds no ``langgraph_*`` keys of the task that ran
    it, and its snapshot's ``parent_config`` carries the ``checkpoint_map`` too."""

    def ask(state: State) -> State:
        interrupt("ok?")
        return {"x": 2}

    inner = StateGraph(State)
    inner.add_node("prepare", lambda state: {"x": 1})
    inner.add_node("ask", ask)
    inner.add_edge(START, "prepare")
    inner.add_edge("prepare", "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    await client.invoke(graph, {"x": 0}, config)
    sub = (await client.get_state(graph, config, subgraphs=True)).tasks[0].state
    assert not [k for k in sub.metadata if k.startswith("langgraph_")]
    assert list(sub.metadata)[:3] == ["source", "step", "parents"]
    parent_map = sub.parent_config["configurable"]["checkpoint_map"]
    assert parent_map[""] == sub.config["configurable"]["checkpoint_map"][""]


async def test_messages_of_node_outputs_are_tagged_and_sent_once(client: GraphClient) -> None:
    """Messages a node returns (also through a list of ``Command``s) are sent with
    ``ls_integration="langgraph"``; a message a later node receives back in its input is not
    sent again, even when a subgraph resumed in a later call returns it with its state."""
    from langchain_core.messages import HumanMessage

    from threadloom.types import Command

    builder = StateGraph(MessagesState)
    builder.add_node("one", lambda state: {"messages": [HumanMessage("a", id="a")]})
    builder.add_node("two", lambda state: [Command(update={"messages": [HumanMessage("b", id="b")]})])
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    parts = await client.stream(builder.compile(), {"messages": []}, stream_mode="messages")
    assert [(m.id, meta["ls_integration"], meta["langgraph_node"]) for m, meta in parts] == [
        ("a", "langgraph", "one"),
        ("b", "langgraph", "two"),
    ]

    def propose(state: MessagesState) -> dict:
        return {"messages": [AIMessage("proposal", id="p")]}

    def approve(state: MessagesState) -> dict:
        return {"messages": [HumanMessage(interrupt("ok?"), id="h")]}

    inner = StateGraph(MessagesState)
    inner.add_node("propose", propose)
    inner.add_node("approve", approve)
    inner.add_edge(START, "propose")
    inner.add_edge("propose", "approve")
    outer = StateGraph(MessagesState)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    graph = outer.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    first = await client.stream(graph, {"messages": []}, config, stream_mode="messages", subgraphs=True)
    second = await client.stream(
        graph, Command(resume="yes"), config, stream_mode="messages", subgraphs=True
    )
    assert [m.id for _, (m, _) in first] == ["p"]
    assert [m.id for _, (m, _) in second] == ["h"]
