"""How-to: a ReAct agent from create_react_agent, with memory across turns via a checkpointer."""

from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.prebuilt import create_react_agent
from scripted_chat import ScriptedChatModel, tool_call


@tool
def get_weather(city: str) -> str:
    """Use this to get weather information."""
    return f"It might be cloudy in {city}"


model = ScriptedChatModel(
    replies=[
        tool_call("get_weather", {"city": "nyc"}, "call-1"),
        AIMessage(content="It might be cloudy in NYC."),
        AIMessage(content="You asked about NYC."),
    ]
)
agent = create_react_agent(
    model, [get_weather], checkpointer=InMemorySaver(), prompt="You are a helpful assistant"
)
config = {"configurable": {"thread_id": "1"}}

result = agent.invoke(
    {"messages": [{"role": "user", "content": "what is the weather in nyc", "id": "h-1"}]}, config
)
for message in result["messages"]:
    print(repr(message))

for chunk in agent.stream(
    {"messages": [{"role": "user", "content": "which city did I ask about?", "id": "h-2"}]},
    config,
    stream_mode="updates",
):
    print(chunk)

state = agent.get_state(config)
print("next:", state.next)
print("messages:", len(state.values["messages"]))
print("step:", state.metadata["step"], state.metadata["source"])
history = list(agent.get_state_history(config))
print(
    "history:", len(history), [(s.metadata["step"], s.metadata["source"], s.next) for s in history]
)
