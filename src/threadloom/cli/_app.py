"""The memory-keeping chat graph behind ``threadloom demo`` and ``threadloom chat``.

It is the cross-thread memory guide's graph, built only from the public API:
one node searches the user's memories by meaning, puts them in the system
prompt, stores a new memory when the user says "remember", and calls the
model. Unlike the guide, which always stores "User name is Bob", it stores
what the user actually asked it to remember.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.embeddings import init_embeddings
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.store.base import BaseStore, IndexConfig

__all__ = [
    "EMBED_DIMS",
    "MEMORY_PREFIX",
    "Backends",
    "build_graph",
    "memory_from_message",
    "open_backends",
    "user_namespace",
]

MEMORY_PREFIX = "memories"
"""First label of every memory namespace: ``("memories", <user id>)``, as in the guide."""

EMBED_DIMS = 384
"""Dimensions of the local embedder's vectors."""

_REMEMBER = re.compile(r"\bremember\b(?:\s+that\b)?[\s:,-]*(.*)", re.IGNORECASE | re.DOTALL)
_REWRITES = (
    # The guide's own wording for a name, so "my name is Bob" is stored as it stores it.
    (re.compile(r"^my name is\b", re.IGNORECASE), "User name is"),
    (re.compile(r"^my\b", re.IGNORECASE), "User's"),
    (re.compile(r"^(i am|i'm)\b", re.IGNORECASE), "User is"),
)


def user_namespace(user_id: str) -> tuple[str, str]:
    """The store namespace that holds ``user_id``'s memories."""
    return (MEMORY_PREFIX, user_id)


def memory_from_message(text: str) -> str | None:
    """The memory to store for a user message, or ``None`` when it asks for none.

    >>> memory_from_message("Hi! Remember: my name is Bob")
    'User name is Bob'
    >>> memory_from_message("please remember that I like green tea.")
    'User said: I like green tea'
    >>> memory_from_message("what is my name?") is None
    True
    """
    match = _REMEMBER.search(text)
    if match is None:
        return None
    fact = match.group(1).strip().rstrip(".!")
    if not fact:
        return f"User said: {text.strip()}"
    for pattern, replacement in _REWRITES:
        rewritten, count = pattern.subn(replacement, fact, count=1)
        if count:
            return rewritten
    return f"User said: {fact}"


def build_graph(model: BaseChatModel, *, checkpointer: BaseCheckpointSaver, store: BaseStore) -> Any:
    """Compile the guide's one-node memory graph around ``model``."""

    def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
        user_id = config["configurable"]["user_id"]
        namespace = user_namespace(user_id)
        last_message = state["messages"][-1]
        text = str(last_message.content)
        memories = store.search(namespace, query=text)
        info = "\n".join([d.value["data"] for d in memories])
        system_msg = f"You are a helpful assistant talking to the user. User info: {info}"
        memory = memory_from_message(text)
        if memory is not None:
            store.put(namespace, str(uuid.uuid4()), {"data": memory})
        response = model.invoke([{"role": "system", "content": system_msg}, *state["messages"]])
        return {"messages": response}

    builder = StateGraph(MessagesState)
    builder.add_node("call_model", call_model)
    builder.add_edge(START, "call_model")
    return builder.compile(checkpointer=checkpointer, store=store)


@dataclass
class Backends:
    """The opened store and checkpointer, and where they keep their data."""

    store: BaseStore
    checkpointer: BaseCheckpointSaver
    location: str


@contextmanager
def open_backends(db_path: str, *, allow_foreign_tables: bool = False) -> Iterator[Backends]:
    """Open the store and checkpointer: SQLite on ``db_path`` (one file for both).

    ``:memory:`` uses the in-memory store and checkpointer: nothing is kept.
    A file holding another application's tables is refused unless
    ``allow_foreign_tables``; every page of the file is read before anything is
    written, so a damaged file is reported (naming it) and left as it was.
    """
    index: IndexConfig = {"embed": init_embeddings("local"), "dims": EMBED_DIMS}
    if db_path == ":memory:":
        from threadloom.checkpoint.memory import InMemorySaver
        from threadloom.store.memory import InMemoryStore

        yield Backends(InMemoryStore(index=index), InMemorySaver(), "in memory (nothing is kept)")
        return
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.store.sqlite import SqliteStore

    with ExitStack() as stack:
        store = stack.enter_context(
            SqliteStore.from_conn_string(
                db_path, index=index, allow_foreign_tables=allow_foreign_tables
            )
        )
        store.verify()
        store.setup()
        checkpointer = stack.enter_context(
            SqliteSaver.from_conn_string(db_path, allow_foreign_tables=allow_foreign_tables)
        )
        checkpointer.setup()
        yield Backends(store=store, checkpointer=checkpointer, location=db_path)
