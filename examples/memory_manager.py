"""The cross-thread memory guide, done properly: a memory manager decides what to remember.

The guide's graph stores a hard-coded "User name is Bob" whenever the user
says "remember". Here a memory manager node reads each turn and inserts,
updates or deletes memories with a chat model's structured output; an
update keeps the old version in the memory's history.

Offline (the default) the reply model is ``OfflineChatModel`` and the memory
model is a ``ScriptedMemoryModel`` that emits the operations a real model
would for this conversation. With ``ANTHROPIC_API_KEY`` set (and
``langchain-anthropic`` installed) both are Claude.

Run it with ``python examples/memory_manager.py``.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.memory import MemorySaver
from threadloom.embeddings import init_embeddings
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.memory import create_memory_store_manager, get_history
from threadloom.store.base import BaseStore
from threadloom.store.memory import InMemoryStore
from threadloom.testing.memory import ScriptedMemoryModel, insert, turn, update
from threadloom.testing.models import OfflineChatModel


def models() -> tuple[BaseChatModel, BaseChatModel]:
    """The reply model and the memory model: Claude with a key, offline stand-ins without."""
    if os.environ.get("ANTHROPIC_API_KEY"):
        from langchain_anthropic import ChatAnthropic

        claude = ChatAnthropic(model_name="claude-3-5-haiku-latest", timeout=60, stop=None)
        return claude, claude
    script = [
        turn(insert("User name is Bob")),  # "Hi! Remember: my name is Bob"
        turn(),  # "what is my name?": nothing new
        turn(update("name is", "User name is Robert")),  # "call me Robert from now on"
        turn(),  # user 2: "what is my name?"
    ]
    return OfflineChatModel(), ScriptedMemoryModel(script=script)


store = InMemoryStore(index={"embed": init_embeddings("local"), "dims": 384, "fields": ["content"]})
model, memory_model = models()


def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
    namespace = ("memories", config["configurable"]["user_id"])
    memories = store.search(namespace, query=str(state["messages"][-1].content))
    info = "\n".join(str(d.value["content"]) for d in memories)
    system_msg = f"You are a helpful assistant talking to the user. User info: {info}"
    response = model.invoke([{"role": "system", "content": system_msg}, *state["messages"]])
    return {"messages": response}


builder = StateGraph(MessagesState)
builder.add_node("call_model", call_model)
# The manager reads the turn and writes the memories (the guide's hard-coded string is gone).
builder.add_node(
    "remember", create_memory_store_manager(memory_model, namespace=("memories", "{user_id}"))
)
builder.add_edge(START, "call_model")
builder.add_edge("call_model", "remember")
graph = builder.compile(checkpointer=MemorySaver(), store=store)


def chat(thread_id: str, user_id: str, content: str) -> None:
    config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
    message = {"role": "user", "content": content}
    shown = None
    for chunk in graph.stream({"messages": [message]}, config, stream_mode="values"):
        last = chunk["messages"][-1]
        if last is not shown and last.id != getattr(shown, "id", None):
            last.pretty_print()  # the remember node leaves the messages as they are
        shown = last


if __name__ == "__main__":
    chat("1", "1", "Hi! Remember: my name is Bob")
    chat("2", "1", "what is my name?")
    chat("2", "1", "Please call me Robert from now on.")
    print("\nMemories of user 1:")
    for memory in store.search(("memories", "1")):
        print(" ", memory.value["content"])
        for version in get_history(store, ("memories", "1"), memory.key):
            print(
                f"    (was: {version.value['content']!r}, superseded {version.superseded_at:%H:%M:%S})"
            )
    chat("3", "2", "what is my name?")
