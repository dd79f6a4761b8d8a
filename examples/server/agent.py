"""A graph for `threadloom serve`: it answers each message and keeps a count per user.

Offline on purpose (no model, no key): swap `reply` for a chat model's call.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from threadloom.graph import START, MessagesState, StateGraph
from threadloom.store.base import BaseStore


def reply(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
    user = config.get("configurable", {}).get("user_id", "anonymous")
    namespace = ("turns", user)
    seen = store.get(namespace, "count")
    count = (seen.value["n"] if seen else 0) + 1
    store.put(namespace, "count", {"n": count})
    text = str(state["messages"][-1].content)
    return {"messages": [AIMessage(f"You said {text!r} (message {count} from {user}).")]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge(START, "reply")
graph = builder.compile()
