"""Subgraph persistence as LangGraph keeps it: namespaces, task states, a subgraph's own history."""

from __future__ import annotations

from typing import Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import SubgraphNotFoundError
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, interrupt

CFG = {"configurable": {"thread_id": "1"}}


class Parent(TypedDict):
    foo: str


class Sub(TypedDict):
    foo: str
    bar: str


def _asking_subgraph(checkpointer: Any = None) -> Any:
    """prep writes a private key, then ask interrupts and appends the answer to foo."""
    sub = StateGraph(Sub)
    sub.add_node("prep", lambda s: {"bar": "private"})
    sub.add_node("ask", lambda s: {"foo": s["foo"] + interrupt("more?")})
    sub.add_edge(START, "prep")
    sub.add_edge("prep", "ask")
    return sub.compile(checkpointer=checkpointer)


def _parent(saver: Any, node: Any) -> Any:
    builder = StateGraph(Parent)
    builder.add_node("node_1", lambda s: {"foo": "hi! " + s["foo"]})
    builder.add_node("node_2", node)
    builder.add_edge(START, "node_1")
    builder.add_edge("node_1", "node_2")
    return builder.compile(checkpointer=saver)


async def test_private_keys_of_a_called_subgraph_stay_out_of_the_parent(
    client: GraphClient, saver: Any
) -> None:
    """A node returning a subgraph's output passes on only the parent's keys (the how-to's case)."""
    sub = StateGraph(Sub)
    sub.add_node("work", lambda s: {"foo": s["foo"] + "bar", "bar": "bar"})
    sub.add_edge(START, "work")
    compiled = sub.compile()

    def node_2(state: Parent) -> dict:
        return compiled.invoke({"foo": state["foo"]})

    graph = _parent(saver, node_2)
    parts = await client.stream(graph, {"foo": "foo"}, CFG, stream_mode="updates")
    assert parts == [{"node_1": {"foo": "hi! foo"}}, {"node_2": {"foo": "hi! foobar"}}]


async def test_subgraph_node_state_lives_under_node_and_task_id(
    client: GraphClient, saver: Any
) -> None:
    """A subgraph node's checkpoints are in namespace "<node>:<task id>"; the task's state
    is that namespace's config, and get_state(subgraphs=True) reads the subgraph's snapshot."""
    graph = _parent(saver, _asking_subgraph())
    await client.invoke(graph, {"foo": "foo"}, CFG)
    task = (await client.get_state(graph, CFG)).tasks[0]
    assert task.state == {"configurable": {"thread_id": "1", "checkpoint_ns": f"node_2:{task.id}"}}
    deep = (await client.get_state(graph, CFG, subgraphs=True)).tasks[0].state
    assert deep.values == {"foo": "hi! foo", "bar": "private"}
    assert deep.next == ("ask",)
    assert deep.config["configurable"]["checkpoint_ns"] == f"node_2:{task.id}"
    assert (await client.get_state(graph, task.state)).values == deep.values


async def test_history_and_update_of_a_subgraph_through_its_config(
    client: GraphClient, saver: Any
) -> None:
    """get_state_history and update_state(as_node) on the subgraph's config act on the
    subgraph's own checkpoints; the parent then resumes from the updated subgraph state."""
    graph = _parent(saver, _asking_subgraph())
    await client.invoke(graph, {"foo": "foo"}, CFG)
    sub_config = (await client.get_state(graph, CFG)).tasks[0].state
    history = await client.get_state_history(graph, sub_config)
    assert [(s.metadata["source"], s.next) for s in history] == [
        ("loop", ("ask",)),
        ("loop", ("prep",)),
        ("input", ("__start__",)),
    ]
    parent_before = await client.get_state_history(graph, CFG)
    await client.update_state(graph, sub_config, {"bar": "edited"}, as_node="prep")
    assert len(await client.get_state_history(graph, CFG)) == len(parent_before)
    assert (await client.get_state(graph, sub_config)).values["bar"] == "edited"
    assert await client.invoke(graph, Command(resume="!"), CFG) == {"foo": "hi! foo!"}


async def test_subgraph_with_checkpointer_true_is_read_under_its_node_name(
    client: GraphClient, saver: Any
) -> None:
    """checkpointer=True inside a function node: one namespace, "node_2", across calls."""
    sub = _asking_subgraph(checkpointer=True)

    def node_2(state: Parent) -> dict:
        return {"foo": sub.invoke({"foo": state["foo"]})["foo"]}

    graph = _parent(saver, node_2)
    out = await client.invoke(graph, {"foo": "foo"}, CFG)
    assert out["__interrupt__"][0].value == "more?"
    deep = (await client.get_state(graph, CFG, subgraphs=True)).tasks[0].state
    assert deep.values == {"foo": "hi! foo", "bar": "private"}
    assert deep.config["configurable"]["checkpoint_ns"] == "node_2"
    assert await client.invoke(graph, Command(resume="?"), CFG) == {"foo": "hi! foo?"}


async def test_stream_namespaces_name_node_and_task_id(client: GraphClient, saver: Any) -> None:
    """subgraphs=True prefixes a subgraph's parts with ("<node>:<task id>",)."""
    sub = StateGraph(Sub)
    sub.add_node("work", lambda s: {"foo": s["foo"] + "!"})
    sub.add_edge(START, "work")
    graph = _parent(saver, sub.compile())
    parts = await client.stream(graph, {"foo": "x"}, CFG, stream_mode="updates", subgraphs=True)
    inner = [ns for ns, _ in parts if ns]
    assert len(inner) == 1
    name, _, task_id = inner[0][0].partition(":")
    assert name == "node_2"
    assert len(task_id) == 36


async def test_a_namespace_that_names_no_subgraph_is_refused(
    client: GraphClient, saver: Any
) -> None:
    graph = _parent(saver, _asking_subgraph())
    await client.invoke(graph, {"foo": "foo"}, CFG)
    before = await client.get_state_history(graph, CFG)
    wrong = {"configurable": {"thread_id": "1", "checkpoint_ns": "ghost:123"}}
    with pytest.raises(SubgraphNotFoundError, match="ghost"):
        await client.get_state(graph, wrong)
    with pytest.raises(SubgraphNotFoundError, match="node_2"):
        await client.update_state(graph, wrong, {"foo": "x"})
    assert await client.get_state_history(graph, CFG) == before


def test_get_subgraphs_lists_nested_subgraphs() -> None:
    inner = _asking_subgraph()
    middle = StateGraph(Sub)
    middle.add_node("inner", inner)
    middle.add_edge(START, "inner")
    mid = middle.compile()
    graph = _parent(InMemorySaver(), mid)
    assert list(graph.get_subgraphs()) == [("node_2", mid)]
    assert list(graph.get_subgraphs(recurse=True)) == [("node_2", mid), ("node_2|inner", inner)]
    assert list(graph.get_subgraphs(namespace="node_2|inner", recurse=True)) == [
        ("node_2|inner", inner)
    ]


async def test_time_travel_to_a_subgraph_checkpoint(client: GraphClient, saver: Any) -> None:
    """Invoking the parent with a subgraph snapshot's config replays from that subgraph
    checkpoint: earlier subgraph nodes do not run again, its interrupt fires again, and an
    update through that config forks the subgraph from there."""
    calls: list[str] = []

    def step(name: str, ask: bool = False) -> Any:
        def run(state: Parent) -> dict:
            calls.append(name)
            answer = interrupt(f"{name}?") if ask else ""
            return {"foo": state["foo"] + f"|{name}{answer}"}

        return run

    sub = StateGraph(Parent)
    sub.add_node("first", step("first"))
    sub.add_node("ask", step("ask", ask=True))
    sub.add_edge(START, "first")
    sub.add_edge("first", "ask")
    builder = StateGraph(Parent)
    builder.add_node("executor", sub.compile(checkpointer=True))
    builder.add_edge(START, "executor")
    graph = builder.compile(checkpointer=saver)
    await client.invoke(graph, {"foo": ""}, CFG)
    at_ask = (await client.get_state(graph, CFG, subgraphs=True)).tasks[0].state.config
    assert at_ask["configurable"]["checkpoint_map"][""]  # the parent's checkpoint of that time
    assert await client.invoke(graph, Command(resume="=1"), CFG) == {"foo": "|first|ask=1"}
    calls.clear()
    again = await client.invoke(graph, None, at_ask)
    assert again["__interrupt__"][0].value == "ask?"
    assert calls == ["ask"]
    assert await client.invoke(graph, Command(resume="=2"), CFG) == {"foo": "|first|ask=2"}
    forked = await client.update_state(graph, at_ask, {"foo": "|edited"})
    calls.clear()
    out = await client.invoke(graph, None, forked)
    assert out["__interrupt__"][0].value == "ask?"
    assert calls == ["ask"]
    # Resuming through the fork's config continues the fork.
    assert await client.invoke(graph, Command(resume="=3"), forked) == {"foo": "|edited|ask=3"}


class Count(TypedDict):
    count: int


def _counter(saver: Any, start: str = "n") -> Any:
    builder = StateGraph(Count)
    builder.add_node(start, lambda s: {"count": (s.get("count") or 0) + 1})
    builder.add_edge(START, start)
    return builder.compile(checkpointer=saver)


async def _run_twice(client: GraphClient, saver: Any, call: Any, name: str = "p") -> None:
    """Two turns of a parent whose one node ``name`` runs ``call()``."""

    def node(state: Parent) -> dict:
        call()
        return {"foo": "ok"}

    builder = StateGraph(Parent)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    graph = builder.compile(checkpointer=saver)
    await client.invoke(graph, {"foo": ""}, CFG)
    await client.invoke(graph, {"foo": ""}, CFG)


async def test_a_graph_called_with_its_own_thread_is_not_a_subgraph(
    client: GraphClient, saver: Any
) -> None:
    """A config naming its own thread makes a call inside a node a run of its own:
    its checkpoints are in that thread's root namespace, found again on the next call."""
    child = _counter(saver)
    own = {"configurable": {"thread_id": "child"}}

    await _run_twice(client, saver, lambda: child.invoke({}, own))
    state = await client.get_state(child, own)
    assert state.values == {"count": 2}
    assert state.config["configurable"]["checkpoint_ns"] == ""


async def test_two_stateful_subgraphs_called_by_one_node_keep_apart(
    client: GraphClient, saver: Any
) -> None:
    """Each checkpointer=True subgraph a task calls gets its own namespace ("node", "node|1")."""
    first = _counter(True, "a")
    second = _counter(True, "b")
    seen: list[tuple[int, int]] = []

    await _run_twice(
        client,
        saver,
        lambda: seen.append((first.invoke({})["count"], second.invoke({"count": 10})["count"])),
        "both",
    )
    assert seen == [(1, 11), (2, 11)]
    namespaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(CFG)}
    assert namespaces == {"", "both", "both|1"}


async def test_stream_namespaces_of_subgraphs_called_by_one_node(
    client: GraphClient, saver: Any
) -> None:
    """Streamed with subgraphs=True: a checkpointer=True subgraph under ("node",), a second
    subgraph of the same task under ("node:<task id>", "1")."""
    stateful = _counter(True, "a")
    plain = _counter(None, "b")

    def node(state: Parent) -> dict:
        stateful.invoke({})
        plain.invoke({"count": 0})
        return {"foo": "ok"}

    builder = StateGraph(Parent)
    builder.add_node("both", node)
    builder.add_edge(START, "both")
    graph = builder.compile(checkpointer=saver)
    parts = await client.stream(graph, {"foo": ""}, CFG, stream_mode="updates", subgraphs=True)
    assert parts[0] == (("both",), {"a": {"count": 1}})
    second = parts[1][0]
    assert second[0].startswith("both:") and second[1:] == ("1",)
    assert parts[1][1] == {"b": {"count": 1}}
    assert parts[-1] == ((), {"both": {"foo": "ok"}})
