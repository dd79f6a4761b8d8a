"""Memory tools inside graphs: store and namespace from the run, agents that call them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from threadloom.config import get_config
from threadloom.errors import InvalidNamespaceError, InvalidStoreInputError, MemoryNotFoundError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.memory import (
    NamespaceTemplate,
    create_manage_memory_tool,
    create_search_memory_tool,
)
from threadloom.prebuilt import create_react_agent
from threadloom.store.memory import InMemoryStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.models import FakeChatModel, tool_call_reply

NS = ("memories", "u1")


def _store() -> InMemoryStore:
    return InMemoryStore(index={"embed": HashingEmbed(64), "dims": 64, "fields": ["content"]})


@dataclass
class Context:
    user_id: str


def test_tool_in_a_node_uses_the_graphs_store_and_config() -> None:
    """Without store=..., the tool writes to the running graph's store, in the config's namespace."""
    tool = create_manage_memory_tool(("memories", "{user_id}"))

    def remember(state: MessagesState) -> dict[str, Any]:
        tool.invoke({"content": "User likes tea"}, config=get_config())
        return {}

    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    store = _store()
    builder.compile(store=store).invoke(
        {"messages": [("user", "hi")]}, {"configurable": {"user_id": "u1"}}
    )
    assert [item.value["content"] for item in store.search(NS)] == ["User likes tea"]


def test_tool_called_without_config_in_a_node_sees_the_nodes_config() -> None:
    """Inside a node, a tool invoked with no config fills its namespace from the node's config."""
    tool = create_manage_memory_tool(("memories", "{user_id}"))

    def remember(state: MessagesState) -> dict[str, Any]:
        tool.invoke({"content": "User likes tea"})
        return {}

    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    store = _store()
    builder.compile(store=store).invoke(
        {"messages": [("user", "hi")]}, {"configurable": {"user_id": "u3"}}
    )
    assert store.list_namespaces() == [("memories", "u3")]


def test_namespace_filled_from_the_run_context() -> None:
    """A template value missing from the config is taken from the run's context."""
    tool = create_manage_memory_tool(("memories", "{user_id}"))

    def remember(state: MessagesState) -> dict[str, Any]:
        tool.invoke({"content": "User likes tea"})
        return {}

    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    store = _store()
    builder.compile(store=store).invoke({"messages": [("user", "hi")]}, context=Context("u7"))
    assert store.list_namespaces() == [("memories", "u7")]


def test_react_agent_saves_and_searches_memories() -> None:
    """A tool-calling model in create_react_agent creates a memory and then finds it."""
    store = _store()
    tools = [
        create_manage_memory_tool(("memories", "{user_id}")),
        create_search_memory_tool(("memories", "{user_id}")),
    ]
    model = FakeChatModel(
        responses=[
            tool_call_reply("manage_memory", {"content": "User's dog is called Rex"}, id="c1"),
            tool_call_reply("search_memory", {"query": "dog name"}, id="c2"),
            "Your dog is Rex.",
        ]
    )
    agent = create_react_agent(model, tools, store=store)
    result = agent.invoke(
        {"messages": [("user", "My dog is Rex. What is my dog's name?")]},
        {"configurable": {"user_id": "u1"}},
    )
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_messages[0].content.startswith("created memory ")
    found = json.loads(tool_messages[1].content)
    assert [item["value"]["content"] for item in found] == ["User's dog is called Rex"]
    assert result["messages"][-1].content == "Your dog is Rex."
    assert model.bound_tools == ["manage_memory", "search_memory"]


def test_tool_schema_shows_only_the_models_arguments() -> None:
    """The model sees content/action/id and query/limit/...; the config stays hidden."""
    manage = create_manage_memory_tool("memories", actions_permitted=["create", "update"])
    assert set(manage.args) == {"content", "action", "id"}
    assert manage.args["action"]["enum"] == ["create", "update"]
    search = create_search_memory_tool("memories")
    assert set(search.args) == {"query", "limit", "offset", "filter", "include_superseded"}


def test_bad_tool_calls_are_typed_errors() -> None:
    """Forbidden actions, missing ids and unknown memories raise before writing anything."""
    store = _store()
    tool = create_manage_memory_tool("memories", store=store, actions_permitted=["create"])
    with pytest.raises(ValueError, match="Input should be 'create'"):  # the args schema refuses
        tool.invoke({"action": "delete", "id": "x"})
    full = create_manage_memory_tool("memories", store=store)
    with pytest.raises(InvalidStoreInputError, match="id"):
        full.invoke({"action": "update", "content": "x"})
    with pytest.raises(MemoryNotFoundError, match="missing"):
        full.invoke({"action": "delete", "id": "missing"})
    with pytest.raises(InvalidStoreInputError, match="actions_permitted"):
        create_manage_memory_tool("memories", actions_permitted=["drop"])  # type: ignore[list-item]
    assert store.list_namespaces() == []


def test_reserved_first_labels_are_refused() -> None:
    """The memory layer's own namespaces cannot be used as a memory namespace."""
    with pytest.raises(InvalidNamespaceError, match="reserved"):
        NamespaceTemplate(("memory_history", "x"))
    with pytest.raises(InvalidNamespaceError):
        NamespaceTemplate(())


def test_empty_template_value_is_an_error() -> None:
    """An empty user id is as bad as a missing one: it would address a shared namespace."""
    from threadloom.errors import MemoryNamespaceError

    with pytest.raises(MemoryNamespaceError):
        NamespaceTemplate(("memories", "{user_id}")).fill({"configurable": {"user_id": ""}})


def test_no_store_outside_a_graph_is_a_clear_error() -> None:
    """A tool with no store=..., called outside a graph, says where a store must come from."""
    from threadloom.errors import StoreNotConfiguredError

    tool = create_manage_memory_tool("memories")
    with pytest.raises(StoreNotConfiguredError, match="store="):
        tool.invoke({"content": "User likes tea"})
