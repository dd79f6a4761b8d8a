"""How to add cross-thread persistence to your graph, on threadloom.

This is the code of the cross-thread persistence guide with ``langgraph``
replaced by ``threadloom`` in the imports. Two more swaps make it run offline
with no API key, and nothing else differs from the guide:

- the store embeds with threadloom's local model, ``init_embeddings("local")``
  (all-MiniLM-L6-v2, 384 dims), instead of ``OpenAIEmbeddings`` (1536 dims);
- the chat model is ``OfflineChatModel``, a stand-in that says it is one and
  answers from the memories in its system prompt, instead of ``ChatAnthropic``.

Run it with ``python examples/cross_thread_memory.py``.
"""
# The guide's imports sit where the guide puts them, between its steps, and it
# imports Annotated and TypedDict without using them; the file keeps that shape.
# ruff: noqa: E402, F401, I001

# --- Define store ---------------------------------------------------------

from threadloom.store.memory import InMemoryStore
from threadloom.embeddings import init_embeddings

in_memory_store = InMemoryStore(
    index={
        "embed": init_embeddings("local"),
        "dims": 384,
    }
)

# --- Create graph ---------------------------------------------------------

import uuid
from typing import Annotated
from typing_extensions import TypedDict

from threadloom.testing.models import OfflineChatModel
from langchain_core.runnables import RunnableConfig
from threadloom.graph import StateGraph, MessagesState, START
from threadloom.checkpoint.memory import MemorySaver
from threadloom.store.base import BaseStore


model = OfflineChatModel()


# NOTE: we're passing the Store param to the node --
# this is the Store we compile the graph with
def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore):
    user_id = config["configurable"]["user_id"]
    namespace = ("memories", user_id)
    memories = store.search(namespace, query=str(state["messages"][-1].content))
    info = "\n".join([d.value["data"] for d in memories])
    system_msg = f"You are a helpful assistant talking to the user. User info: {info}"

    # Store new memories if the user asks the model to remember
    last_message = state["messages"][-1]
    if "remember" in last_message.content.lower():
        memory = "User name is Bob"
        store.put(namespace, str(uuid.uuid4()), {"data": memory})

    response = model.invoke(
        [{"role": "system", "content": system_msg}] + state["messages"]
    )
    return {"messages": response}


builder = StateGraph(MessagesState)
builder.add_node("call_model", call_model)
builder.add_edge(START, "call_model")

# NOTE: we're passing the store object here when compiling the graph
graph = builder.compile(checkpointer=MemorySaver(), store=in_memory_store)
# If you're using LangGraph Cloud or LangGraph Studio, you don't need to pass the store or checkpointer when compiling the graph, since it's done automatically.

# --- Run the graph! -------------------------------------------------------

config = {"configurable": {"thread_id": "1", "user_id": "1"}}
input_message = {"role": "user", "content": "Hi! Remember: my name is Bob"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()

config = {"configurable": {"thread_id": "2", "user_id": "1"}}
input_message = {"role": "user", "content": "what is my name?"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()

# We can now inspect our in-memory store and verify that we have in fact saved the memories for the user:

for memory in in_memory_store.search(("memories", "1")):
    print(memory.value)

# Let's now run the graph for another user to verify that the memories about the first user are self contained:

config = {"configurable": {"thread_id": "3", "user_id": "2"}}
input_message = {"role": "user", "content": "what is my name?"}
for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
    chunk["messages"][-1].pretty_print()
