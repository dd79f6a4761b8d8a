"""How-to: call tools with ToolNode, alone and inside a graph routed by tools_condition."""

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from scripted_chat import ScriptedChatModel


@tool
def get_weather(location: str) -> str:
    """Call to get the current weather."""
    if location.lower() in ("sf", "san francisco"):
        return "It's 60 degrees and foggy."
    return "It's 90 degrees and sunny."


@tool
def get_coolest_cities() -> str:
    """Get a list of coolest cities."""
    return "nyc, sf"


@tool
def divide(a: int, b: int) -> float:
    """Divide a by b."""
    return a / b


tool_node = ToolNode([get_weather, get_coolest_cities, divide])

# The tool node alone, as the only node of a graph.
tools_only = (
    StateGraph(MessagesState).add_node("tools", tool_node).add_edge(START, "tools").compile()
)

# One tool call, then two in parallel, then a failing call handled as an error message.
single = AIMessage(
    content="", tool_calls=[{"name": "get_weather", "args": {"location": "sf"}, "id": "call-1"}]
)
print(tools_only.invoke({"messages": [single]}))
parallel = AIMessage(
    content="",
    tool_calls=[
        {"name": "get_coolest_cities", "args": {}, "id": "call-2"},
        {"name": "get_weather", "args": {"location": "nyc"}, "id": "call-3"},
    ],
)
print(tools_only.invoke({"messages": [parallel]}))
failing = AIMessage(
    content="", tool_calls=[{"name": "divide", "args": {"a": 1, "b": 0}, "id": "call-4"}]
)
try:
    tools_only.invoke({"messages": [failing]})
except ZeroDivisionError as exc:  # by default only bad tool arguments become error messages
    print("raised:", type(exc).__name__, exc, getattr(exc, "__notes__", None))
handled = StateGraph(MessagesState).add_node("tools", ToolNode([divide], handle_tool_errors=True))
print(handled.add_edge(START, "tools").compile().invoke({"messages": [failing]}))
bad_args = AIMessage(
    content="", tool_calls=[{"name": "divide", "args": {"a": "one"}, "id": "call-6"}]
)
print(tools_only.invoke({"messages": [bad_args]}))

model = ScriptedChatModel(
    replies=[
        AIMessage(
            content="",
            tool_calls=[{"name": "get_weather", "args": {"location": "sf"}, "id": "call-5"}],
        ),
        AIMessage(content="It is 60 degrees and foggy in SF."),
    ]
).bind_tools([get_weather, get_coolest_cities])


def call_model(state: MessagesState) -> dict:
    return {"messages": [model.invoke(state["messages"])]}


builder = StateGraph(MessagesState)
builder.add_node("agent", call_model)
builder.add_node("tools", tool_node)
builder.add_edge(START, "agent")
builder.add_conditional_edges("agent", tools_condition, ["tools", END])
builder.add_edge("tools", "agent")
graph = builder.compile()

for chunk in graph.stream(
    {"messages": [HumanMessage("what's the weather in sf?", id="h-1")]}, stream_mode="updates"
):
    print(chunk)
