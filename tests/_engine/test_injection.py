"""Injection by parameter name (config, store, runtime, writer) and the context accessors."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableConfig, RunnableLambda
from typing_extensions import TypedDict

from threadloom.config import get_config, get_store, get_stream_writer
from threadloom.errors import StoreNotConfiguredError
from threadloom.graph import START, StateGraph
from threadloom.runtime import Runtime
from threadloom.store.base import BaseStore
from threadloom.store.memory import InMemoryStore
from threadloom.testing.graph import GraphClient


class State(TypedDict):
    out: str


def graph_of(node, **compile_kwargs):
    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    return builder.compile(**compile_kwargs)


async def test_config_and_keyword_only_store_are_injected_as_in_the_guide(
    client: GraphClient,
) -> None:
    """A node declared (state, config, *, store) receives the run config and the compiled store."""
    store = InMemoryStore()
    store.put(("memories", "1"), "k", {"data": "Bob"})

    def node(state: State, config: RunnableConfig, *, store: BaseStore) -> dict:
        user = config["configurable"]["user_id"]
        return {"out": store.get(("memories", user), "k").value["data"]}

    graph = graph_of(node, store=store)
    assert await client.invoke(graph, {"out": ""}, {"configurable": {"user_id": "1"}}) == {
        "out": "Bob"
    }


async def test_runtime_carries_context_store_and_writer(client: GraphClient) -> None:
    """A runtime parameter receives Runtime(context, store, stream_writer)."""
    store = InMemoryStore()

    def node(state: State, runtime: Runtime) -> dict:
        runtime.stream_writer("hi")
        assert runtime.store is store
        return {"out": runtime.context["who"]}

    graph = graph_of(node, store=store)
    assert await client.stream(
        graph, {"out": ""}, stream_mode="custom", context={"who": "ann"}
    ) == ["hi"]
    assert await client.invoke(graph, {"out": ""}, context={"who": "ann"}) == {"out": "ann"}


async def test_accessors_reach_the_running_nodes_config_store_and_writer(
    client: GraphClient,
) -> None:
    """get_config, get_store and get_stream_writer work from code called by a node."""
    store = InMemoryStore()

    def helper() -> str:
        get_stream_writer()("from helper")
        assert get_store() is store
        return get_config()["metadata"]["langgraph_node"]

    graph = graph_of(lambda s: {"out": helper()}, store=store)
    parts = await client.stream(graph, {"out": ""}, stream_mode=["custom", "values"])
    assert ("custom", "from helper") in parts
    assert parts[-1] == ("values", {"out": "node"})


def test_accessors_outside_a_node_raise_a_clear_error() -> None:
    """get_config() outside a running node raises RuntimeError saying so."""
    with pytest.raises(RuntimeError, match="inside a running graph node"):
        get_config()


async def test_node_asking_for_store_without_one_is_an_error_naming_the_node(
    client: GraphClient,
) -> None:
    """A node that requires store in a graph compiled without one raises StoreNotConfiguredError."""

    def node(state: State, *, store: BaseStore) -> dict:
        return {}

    with pytest.raises(StoreNotConfiguredError, match="node 'node'"):
        await client.invoke(graph_of(node), {"out": ""})
    with pytest.raises(ValueError):
        await client.invoke(graph_of(node), {"out": ""})


async def test_get_store_without_a_store_names_the_node(client: GraphClient) -> None:
    """get_store() in a graph without store raises StoreNotConfiguredError naming the node."""
    with pytest.raises(StoreNotConfiguredError, match="'node'"):
        await client.invoke(graph_of(lambda s: get_store()), {"out": ""})


async def test_optional_store_parameter_gets_none(client: GraphClient) -> None:
    """A store parameter with a default receives None when no store is compiled in."""

    def node(state: State, store: BaseStore | None = None) -> dict:
        return {"out": repr(store)}

    assert await client.invoke(graph_of(node), {"out": ""}) == {"out": "None"}


async def test_langchain_runnables_are_nodes(client: GraphClient) -> None:
    """A LangChain runnable works as a node and receives the state."""
    graph = graph_of(RunnableLambda(lambda s: {"out": s["out"] + "!"}, name="node"))
    assert await client.invoke(graph, {"out": "x"}) == {"out": "x!"}
