"""A small world to inspect: a SQLite file with a chat thread, an interrupted thread and memories.

Shared by the page tests, the browser tests and the screenshots.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typing_extensions import TypedDict

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.inspector import Backends
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.models import FakeChatModel
from threadloom.types import interrupt

XSS_SCRIPT = "<script>window.__xss = 1</script>"
XSS_IMG = '<img src=x onerror="window.__xss = 2">'

CHAT_THREAD = "chat-thread"
ASK_THREAD = "ask-thread"
XSS_THREAD = "<b>bold</b>-thread"


class Count(TypedDict):
    n: int


def _ask(state: Count) -> dict[str, Any]:
    answer = interrupt({"question": "how many?", "n": state["n"]})
    return {"n": state["n"] + int(answer)}


def build_graphs(saver: Any, store: Any) -> dict[str, Any]:
    """A chat graph (the model answers from a script) and one that asks via interrupt()."""
    model = FakeChatModel(responses=["hello there", "I remember", XSS_IMG], cycle=True)

    def chat(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    b = StateGraph(MessagesState)
    b.add_node("chat", chat)
    b.add_edge(START, "chat")
    a = StateGraph(Count)
    a.add_node("ask", _ask)
    a.add_edge(START, "ask")
    return {
        "chat": b.compile(checkpointer=saver, store=store),
        "asker": a.compile(checkpointer=saver, store=store),
    }


@dataclass
class World:
    backends: Backends
    path: Path


def seed(backends: Backends) -> None:
    """Threads and memories, including stored strings that would run if not escaped."""
    chat, asker = backends.graphs["chat"], backends.graphs["asker"]
    config = {"configurable": {"thread_id": CHAT_THREAD}, "metadata": {"user": "bob"}}
    for text in ["hi, I am Bob", "remember that I like tea", XSS_SCRIPT]:
        chat.invoke({"messages": [{"role": "user", "content": text}]}, config)
    asker.invoke({"n": 1}, {"configurable": {"thread_id": ASK_THREAD}})
    chat.invoke(
        {"messages": [{"role": "user", "content": "x"}]},
        {"configurable": {"thread_id": XSS_THREAD}},
    )
    store = backends.store
    store.put(("memories", "bob"), "name", {"text": "User name is Bob", "kind": "fact"})
    store.put(("memories", "bob"), "tea", {"text": "Bob likes green tea", "kind": "preference"})
    store.put(("memories", "bob"), "xss", {"text": XSS_SCRIPT, "html": XSS_IMG, "kind": "fact"})
    store.put(("memories", "alice"), "name", {"text": "User name is Alice", "kind": "fact"})
    store.put(("docs",), "readme", {"text": "a document about tea"})


@contextlib.contextmanager
def world(
    path: Path, *, graphs: bool = True, threads: tuple[str, ...] | None = None
) -> Iterator[World]:
    """Backends on the SQLite file ``path`` (seeded if new), closed on exit."""
    fresh = not path.exists()
    index = {"dims": 64, "embed": HashingEmbed(64), "fields": ["text"]}
    with (
        SqliteStore.from_conn_string(str(path), index=index) as store,
        SqliteSaver.from_conn_string(str(path)) as saver,
    ):
        store.setup()
        saver.setup()
        backends = Backends(
            checkpointer=saver, store=store, graphs=build_graphs(saver, store), threads=threads
        )
        if fresh:
            seed(backends)
        if not graphs:
            backends = Backends(checkpointer=saver, store=store, threads=threads)
        yield World(backends, path)
