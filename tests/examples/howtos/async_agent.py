"""How-to: run an agent graph asynchronously with ainvoke and astream."""

import asyncio

from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from scripted_chat import ScriptedChatModel, tool_call


@tool
async def search(query: str) -> str:
    """Search the web."""
    await asyncio.sleep(0)
    return f"Results for {query}: it is sunny."


model = ScriptedChatModel(
    replies=[
        tool_call("search", {"query": "weather in sf"}, "call-1"),
        AIMessage(content="It is sunny in SF."),
    ]
)


async def call_model(state: MessagesState) -> dict:
    response = await model.ainvoke(state["messages"])
    return {"messages": [response]}


builder = StateGraph(MessagesState)
builder.add_node("agent", call_model)
builder.add_node("tools", ToolNode([search]))
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition, ["tools", END])
builder.add_edge("tools", "agent")
graph = builder.compile(checkpointer=InMemorySaver())


async def main() -> None:
    config = {"configurable": {"thread_id": "a"}}
    result = await graph.ainvoke(
        {"messages": [{"role": "user", "content": "weather in sf?", "id": "h-1"}]}, config
    )
    for message in result["messages"]:
        print(repr(message))
    config = {"configurable": {"thread_id": "b"}}
    async for chunk in graph.astream(
        {"messages": [{"role": "user", "content": "and again?", "id": "h-2"}]},
        config,
        stream_mode="updates",
    ):
        print(chunk)
    async for chunk in graph.astream(
        {"messages": [{"role": "user", "content": "once more", "id": "h-3"}]},
        config,
        stream_mode="values",
    ):
        print([m.content for m in chunk["messages"]])
    state = await graph.aget_state(config)
    print("next:", state.next, "step:", state.metadata["step"])
    print("history:", len([s async for s in graph.aget_state_history(config)]))


asyncio.run(main())
