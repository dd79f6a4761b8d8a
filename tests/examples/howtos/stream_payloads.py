"""How-to: stream in full: message metadata, and the debug, tasks and checkpoints modes."""

from typing import TypedDict

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from scripted_chat import ScriptedChatModel

model = ScriptedChatModel(replies=[AIMessage(content="hello there")])


class State(TypedDict):
    text: str


def talk(state: State) -> dict:
    return {"text": model.invoke(state["text"]).content}


builder = StateGraph(State)
builder.add_node(talk)
builder.add_edge(START, "talk")
graph = builder.compile(checkpointer=InMemorySaver())
config = {"configurable": {"thread_id": "1"}}

for message, metadata in graph.stream({"text": "hi"}, config, stream_mode="messages"):
    print(repr(message), metadata)
for mode in ("tasks", "checkpoints", "debug"):
    for chunk in graph.stream({"text": "hi"}, config, stream_mode=mode):
        print(mode, chunk)
