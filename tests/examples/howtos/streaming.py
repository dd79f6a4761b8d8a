"""How-to: stream a graph in values, updates, custom and messages modes, one at a time and together."""

from typing import TypedDict

from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph
from scripted_chat import ScriptedChatModel

model = ScriptedChatModel(
    replies=[AIMessage(content="Why did the cat sit on the computer? To keep an eye on the mouse.")]
)


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State) -> dict:
    writer = get_stream_writer()
    writer({"progress": "refining"})
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State) -> dict:
    writer = get_stream_writer()
    writer({"progress": "asking the model"})
    reply = model.invoke([{"role": "user", "content": f"Tell a joke about {state['topic']}"}])
    writer("done")
    return {"joke": reply.content}


builder = StateGraph(State)
builder.add_node(refine_topic)
builder.add_node(generate_joke)
builder.add_edge(START, "refine_topic")
builder.add_edge("refine_topic", "generate_joke")
graph = builder.compile()

for mode in ("values", "updates", "custom"):
    print("mode:", mode)
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode=mode):
        print(chunk)

print("mode: messages")
for message, metadata in graph.stream({"topic": "ice cream"}, stream_mode="messages"):
    print(
        type(message).__name__,
        repr(message.content),
        metadata["langgraph_node"],
        metadata["langgraph_step"],
    )

print("modes: updates + custom + messages")
for mode, chunk in graph.stream({"topic": "dogs"}, stream_mode=["updates", "custom", "messages"]):
    if mode == "messages":
        print(mode, repr(chunk[0].content), chunk[1]["langgraph_node"])
    else:
        print(mode, chunk)
