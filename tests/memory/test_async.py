"""The memory tools and manager in async graphs, on the async SQLite store."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import ToolMessage

from threadloom.graph import START, MessagesState, StateGraph
from threadloom.memory import (
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
)
from threadloom.prebuilt import create_react_agent
from threadloom.store.sqlite.aio import AsyncSqliteStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.memory import ScriptedMemoryModel, insert, turn
from threadloom.testing.models import FakeChatModel, tool_call_reply

NS = ("memories", "u1")
CONFIG = {"configurable": {"user_id": "u1"}}
INDEX = {"embed": HashingEmbed(64), "dims": 64, "fields": ["content"]}


async def test_agent_and_manager_node_under_ainvoke(tmp_path: Path) -> None:
    """ainvoke of an agent with the tools, and of a graph with the manager node, both write."""
    async with AsyncSqliteStore.from_conn_string(str(tmp_path / "m.db"), index=INDEX) as store:
        await store.setup()
        tools = [
            create_manage_memory_tool(("memories", "{user_id}")),
            create_search_memory_tool(("memories", "{user_id}")),
        ]
        model = FakeChatModel(
            responses=[tool_call_reply("manage_memory", {"content": "User likes tea"}), "ok"]
        )
        agent = create_react_agent(model, tools, store=store)
        result = await agent.ainvoke({"messages": [("user", "I like tea")]}, CONFIG)
        (reply,) = [m for m in result["messages"] if isinstance(m, ToolMessage)]
        assert str(reply.content).startswith("created memory ")

        builder = StateGraph(MessagesState)
        scripted = ScriptedMemoryModel(script=[turn(insert("User likes cocoa"))])
        builder.add_node("remember", create_memory_store_manager(scripted))
        builder.add_edge(START, "remember")
        await builder.compile(store=store).ainvoke({"messages": [("user", "cocoa")]}, CONFIG)
        contents = sorted(item.value["content"] for item in await store.asearch(NS))
        assert contents == ["User likes cocoa", "User likes tea"]


async def test_store_manager_ainvoke_on_the_async_store(tmp_path: Path) -> None:
    """ainvoke called from the event loop works on a store whose sync calls must leave the loop."""
    async with AsyncSqliteStore.from_conn_string(str(tmp_path / "m.db"), index=INDEX) as store:
        await store.setup()
        scripted = ScriptedMemoryModel(script=[turn(insert("User likes cocoa"))])
        manager = create_memory_store_manager(scripted, store=store)
        (applied,) = await manager.ainvoke({"messages": [("user", "cocoa")]}, CONFIG)
        assert applied.action == "create"
        assert [item.value["content"] for item in await store.asearch(NS)] == ["User likes cocoa"]
