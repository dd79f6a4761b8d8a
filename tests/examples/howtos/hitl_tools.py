"""How-to: review tool calls with a human, using interrupt() and Command(resume=...)."""

from typing import Literal

from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt
from scripted_chat import ScriptedChatModel, tool_call


@tool
def weather_search(city: str) -> str:
    """Search for the weather."""
    return f"Sunny in {city}!"


model = ScriptedChatModel(
    replies=[
        tool_call("weather_search", {"city": "San Francisco"}, "call-1"),
        AIMessage(content="It is sunny."),
        tool_call("weather_search", {"city": "SF"}, "call-2"),
        AIMessage(content="It is sunny in San Francisco."),
    ]
)


def call_llm(state: MessagesState) -> dict:
    return {"messages": [model.invoke(state["messages"])]}


def human_review_node(state: MessagesState) -> Command[Literal["call_llm", "run_tool"]]:
    last = state["messages"][-1]
    call = last.tool_calls[-1]
    review = interrupt({"question": "Is this correct?", "tool_call": call})
    if review["action"] == "continue":
        return Command(goto="run_tool")
    updated = AIMessage(
        content=last.content, tool_calls=[{**call, "args": review["data"]}], id=last.id
    )
    return Command(goto="run_tool", update={"messages": [updated]})


def route_after_llm(state: MessagesState) -> Literal["human_review_node", "__end__"]:
    return "human_review_node" if state["messages"][-1].tool_calls else END


builder = StateGraph(MessagesState)
builder.add_node(call_llm)
builder.add_node("run_tool", ToolNode([weather_search]))
builder.add_node(human_review_node)
builder.add_edge(START, "call_llm")
builder.add_conditional_edges("call_llm", route_after_llm)
builder.add_edge("run_tool", "call_llm")
graph = builder.compile(checkpointer=InMemorySaver())


def show(config: dict) -> None:
    state = graph.get_state(config)
    print("next:", state.next)
    print("tasks:", [(t.name, [i.value for i in t.interrupts]) for t in state.tasks])
    print("interrupts:", [i.value for i in state.interrupts])


config = {"configurable": {"thread_id": "approve"}}
for chunk in graph.stream(
    {"messages": [{"role": "user", "content": "weather in sf?", "id": "h-1"}]}, config
):
    print(chunk)
show(config)
for chunk in graph.stream(Command(resume={"action": "continue"}), config):
    print(chunk)
show(config)

config = {"configurable": {"thread_id": "edit"}}
result = graph.invoke(
    {"messages": [{"role": "user", "content": "weather in sf?", "id": "h-2"}]}, config
)
print(result["__interrupt__"])
show(config)
result = graph.invoke(
    Command(resume={"action": "update", "data": {"city": "San Francisco, USA"}}), config
)
for message in result["messages"]:
    print(repr(message))
show(config)
