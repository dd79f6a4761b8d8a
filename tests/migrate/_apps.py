"""One small app written twice, for LangGraph and for threadloom, and what to compare between them.

The LangGraph copy fills a source database the way real users' programs do:
messages, an interrupt left pending, a resumed interrupt, a fork from a past
checkpoint (time travel), and memories in the store.
"""

from __future__ import annotations

import hashlib
import operator
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage

NAMESPACES = [("memories", "u1"), ("memories", "u2"), ("prefs", "u1")]
MEMORIES = {
    ("memories", "u1"): {
        "m1": {"data": "User likes green tea"},
        "m2": {"data": "User lives in Lisbon"},
        "m3": {"data": "User plays the cello"},
    },
    ("memories", "u2"): {"m1": {"data": "User is allergic to cats"}},
    ("prefs", "u1"): {"style": {"data": "short answers", "rank": 2}},
}
THREADS = ("t-done", "t-fork", "t-paused")


def build(flavour: str, checkpointer: Any, store: Any) -> Any:
    """The app's graph, compiled from ``langgraph`` or ``threadloom`` (the same code)."""
    if flavour == "langgraph":
        from langgraph.graph import START, MessagesState, StateGraph
        from langgraph.types import interrupt
    else:
        from threadloom.graph import START, MessagesState, StateGraph
        from threadloom.types import interrupt

    class State(MessagesState):
        name: str

    def chat(state: State) -> dict[str, Any]:
        return {"messages": [AIMessage(f"seen {len(state['messages'])} messages")]}

    def ask(state: State) -> dict[str, Any]:
        return {"name": interrupt({"question": "what is your name?"})}

    def greet(state: State) -> dict[str, Any]:
        return {"messages": [AIMessage(f"hello {state['name']}")]}

    builder = StateGraph(State)
    builder.add_node("chat", chat)
    builder.add_node("ask", ask)
    builder.add_node("greet", greet)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", "ask")
    builder.add_edge("ask", "greet")
    return builder.compile(checkpointer=checkpointer, store=store)


def config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def populate(graph: Any, store: Any) -> None:
    """Run the LangGraph copy: one finished thread, one paused at its interrupt, one forked."""
    from langgraph.types import Command

    graph.invoke({"messages": [HumanMessage("hi")]}, config("t-done"))
    graph.invoke(Command(resume="Ann"), config("t-done"))
    graph.invoke({"messages": [HumanMessage("hello there")]}, config("t-paused"))
    graph.invoke({"messages": [HumanMessage("first")]}, config("t-fork"))
    graph.invoke(Command(resume="Bo"), config("t-fork"))
    past = next(s for s in graph.get_state_history(config("t-fork")) if s.next == ("ask",))
    graph.update_state(past.config, {"messages": [HumanMessage("rewritten")]})
    for namespace, items in MEMORIES.items():
        for key, value in items.items():
            store.put(namespace, key, value)


@contextmanager
def langgraph_sqlite(path: Path) -> Iterator[tuple[Any, Any, sqlite3.Connection]]:
    """A LangGraph SQLite file at ``path`` filled by :func:`populate`: (graph, store, connection)."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.store.sqlite import SqliteStore

    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        store = SqliteStore(conn)
        store.setup()
        graph = build("langgraph", SqliteSaver(conn), store)
        populate(graph, store)
        yield graph, store, conn
    finally:
        conn.close()


def history(graph: Any, thread_id: str) -> list[tuple[Any, ...]]:
    """What a user sees of a thread's history: ids, parents, metadata, next, values."""
    return [
        (
            s.config["configurable"]["checkpoint_id"],
            None if s.parent_config is None else s.parent_config["configurable"]["checkpoint_id"],
            {k: v for k, v in s.metadata.items() if k in ("source", "step", "parents")},
            s.next,
            _values(s.values),
        )
        for s in graph.get_state_history(config(thread_id))
    ]


def history_apart_from_input_next(graph: Any, thread_id: str) -> list[tuple[Any, ...]]:
    """:func:`history` with ``next`` blanked on input checkpoints.

    LangGraph's input checkpoint holds the input in its ``__start__`` channel and
    reports ``next == ("__start__",)``; threadloom's engine reports ``()`` for
    it (issue 13, point 2). ``test_input_checkpoint_next_as_langgraph`` pins that
    one difference on its own, so every other field is still compared exactly.
    """
    return [
        (*entry[:3], None if entry[2].get("source") == "input" else entry[3], entry[4])
        for entry in history(graph, thread_id)
    ]


def state(graph: Any, thread_id: str) -> tuple[Any, ...]:
    """The latest snapshot: values, next, the pending interrupts' values, the step.

    Interrupt ids are left out: threadloom gives each its own engine's id (see docs/migrate.md).
    """
    snap = graph.get_state(config(thread_id))
    interrupts = [i.value for task in snap.tasks for i in task.interrupts]
    return _values(snap.values), snap.next, interrupts, snap.metadata.get("step")


def _values(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "messages" in out:
        out["messages"] = [(type(m).__name__, m.content, m.id) for m in out["messages"]]
    return out


def items(store: Any, **search: Any) -> dict[tuple[str, ...], list[tuple[str, Any]]]:
    """Each namespace's items (key, value), as a search returns them."""
    return {
        namespace: [(i.key, i.value) for i in store.search(namespace, limit=50, **search)]
        for namespace in NAMESPACES
    }


def file_digest(path: Path) -> str:
    """The SQLite database's bytes: the file and its write-ahead log if present.

    Not the ``-shm`` file: it is the readers' shared-memory index that every
    reader of a WAL-mode database maps (and creates if missing), not data.
    """
    digest = hashlib.sha256()
    for part in (path, Path(f"{path}-wal")):
        if part.exists():
            digest.update(part.read_bytes())
    return digest.hexdigest()


class LogState(TypedDict):
    log: Annotated[list[str], operator.add]


def build_parallel(flavour: str, checkpointer: Any, runs: list[str]) -> Any:
    """Two parallel nodes: ``a`` finishes, ``b`` asks; ``runs`` records each node run."""
    if flavour == "langgraph":
        from langgraph.graph import START, StateGraph
        from langgraph.types import interrupt
    else:
        from threadloom.graph import START, StateGraph
        from threadloom.types import interrupt

    def a(state: LogState) -> dict[str, Any]:
        runs.append("a")
        return {"log": ["a"]}

    def b(state: LogState) -> dict[str, Any]:
        runs.append("b")
        return {"log": [f"b:{interrupt('b?')}"]}

    builder = StateGraph(LogState)
    builder.add_node("a", a)
    builder.add_node("b", b)
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    return builder.compile(checkpointer=checkpointer)
