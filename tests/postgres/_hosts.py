"""Worker-process code for the many-hosts tests: each process is one application host.

Each host builds and compiles its own guide-shaped graph against the shared
PostgreSQL database (a saver for threads, a store for memories).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.errors import CheckpointConflictError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.store.base import BaseStore
from threadloom.store.postgres import PostgresStore
from threadloom.testing.embeddings import HashingEmbed

DIMS = 64


def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
    """The guide's node with a deterministic "model": recall memories, store new ones, reply."""
    user_id = config["configurable"]["user_id"]
    namespace = ("memories", user_id)
    last = str(state["messages"][-1].content)
    memories = store.search(namespace, query=last)
    info = "; ".join(d.value["data"] for d in memories)
    if "remember" in last.lower():
        store.put(namespace, str(uuid.uuid4()), {"data": last.split("remember", 1)[1].strip()})
    return {"messages": [AIMessage(f"re: {last} | known: {info}")]}


def run_turns(dsn: str, turns: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Run ``(thread_id, user_id, text)`` turns on this host, retrying a turn on conflict."""
    index: Any = {"dims": DIMS, "embed": HashingEmbed(DIMS), "fields": ["data"]}
    replies: list[str] = []
    conflicts = 0
    with (
        PostgresSaver.from_conn_string(dsn) as saver,
        PostgresStore.from_conn_string(dsn, index=index) as store,
    ):
        builder = StateGraph(MessagesState)
        builder.add_node("call_model", call_model)
        builder.add_edge(START, "call_model")
        graph = builder.compile(checkpointer=saver, store=store)
        for thread_id, user_id, text in turns:
            config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
            while True:
                try:
                    out = graph.invoke({"messages": [("user", text)]}, config)
                    break
                except CheckpointConflictError:
                    conflicts += 1  # another host is mid-turn or moved on: retry shortly
                    time.sleep(0.02)
            replies.append(str(out["messages"][-1].content))
    return {"pid": os.getpid(), "replies": replies, "conflicts": conflicts}
