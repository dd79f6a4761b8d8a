"""The writers that the SIGKILL durability test kills, and the chat graph they run.

``_durable.py zygote PATH``: imports everything once, then for each line
``NAME SLOT`` read on stdin forks a writer and prints its pid (forking spares
each of the many killed writers the interpreter start-up). A writer loops
forever over:

* a store batch on its own namespace: N new items (N = 1..4), one overwritten
  item (``NAME-latest``) and one "scratch" item put while the previous one is
  deleted, in one ``batch`` call (so it commits whole or not at all);
* a chat turn, alternately on its lane's thread (``lane{SLOT}``: one writer at
  a time, continued by the next writer of the slot, so the thread grows long
  and its ``messages`` become delta chains with periodic snapshots) and on the
  ``shared`` thread, which every live writer advances at once and where a
  turn is retried on :class:`~threadloom.errors.CheckpointConflictError`.

Each write that returned is appended as one line to ``PATH.NAME.acks`` (one
``write()`` per line: SIGKILL cuts a process, never a line already written).

Transactions are reported through ``PATH.NAME.txn``: the writer's SQLite
connections are :class:`TracedConnection`, which overwrites the file's first
two bytes when a write transaction opens (``I`` once ``BEGIN IMMEDIATE``
returned: the write lock is held), when ``COMMIT`` starts (``C``) and when
the transaction ends (``O``), followed by what it writes: ``s`` a store
batch, ``c`` a checkpoint, ``w`` a task's pending writes. Reading the file
after the writer died tells where the kill landed (no fsync needed: the
kernel keeps what a killed process wrote). A trace callback would fire
before each statement runs, so it could not tell a finished ``COMMIT`` from
one in progress.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import traceback
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import CheckpointConflictError
from threadloom.graph import END, START, MessagesState, StateGraph
from threadloom.store.base import PutOp
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.types import Command, interrupt

DIMS = 64
SHARED = "shared"
#: Seconds a turn left open by a killed writer keeps others from starting one on ``shared``
#: (the default, two minutes, would stall the thread for the rest of the test).
TURN_TIMEOUT = 0.2
#: Every this-many lane turn asks for a review: the graph interrupts and is resumed.
REVIEW_EVERY = 3


# --- the chat graph ------------------------------------------------------------------


class ChatState(MessagesState):
    answered: int


def turn_of(message: BaseMessage) -> str:
    """A message's turn (its id without the ``-h``/``-a``/``-r`` role suffix)."""
    return str(message.id)[:-2]


def reply(state: ChatState) -> dict[str, Any]:
    """Answer every human message not answered yet, saying how many messages were seen."""
    messages = state["messages"]
    answered = {turn_of(m) for m in messages if str(m.id).endswith("-a")}
    new = [
        AIMessage(f"answer {turn_of(m)} after {len(messages)}", id=turn_of(m) + "-a")
        for m in messages
        if str(m.id).endswith("-h") and turn_of(m) not in answered
    ]
    # Two channels: a task's pending writes are a set that must be stored whole.
    return {"messages": new, "answered": state.get("answered", 0) + len(new)}


def review(state: ChatState) -> dict[str, Any]:
    """On a review turn, wait for a verdict (an interrupt) and record it."""
    last = [m for m in state["messages"] if str(m.id).endswith("-h")][-1]
    if not str(last.content).startswith("review"):
        return {}
    verdict = interrupt(f"review {turn_of(last)}")
    return {"messages": [AIMessage(f"review {verdict}", id=turn_of(last) + "-r")]}


def chat_graph() -> StateGraph:
    """START -> (reply, review) in parallel -> END."""
    builder = StateGraph(ChatState)
    builder.add_node("reply", reply)
    builder.add_node("review", review)
    builder.add_edge(START, "reply")
    builder.add_edge(START, "review")
    builder.add_edge("reply", END)
    builder.add_edge("review", END)
    return builder


def thread_config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def lane_message(lane: str, turn: int) -> HumanMessage:
    kind = "review" if turn % REVIEW_EVERY == 0 else "chat"
    return HumanMessage(f"{kind} {lane} {turn}", id=f"{lane}-{turn}-h")


def lane_turn_ids(lane: str, turn: int) -> list[str]:
    """The ids of a whole lane turn, in order: the question, its answer, maybe a review."""
    suffixes = ["-h", "-a"] + (["-r"] if turn % REVIEW_EVERY == 0 else [])
    return [f"{lane}-{turn}{suffix}" for suffix in suffixes]


# --- the store batches -----------------------------------------------------------------


def word(key: str) -> str:
    """One keyword of its own for ``key`` (letters and digits only)."""
    return key.replace("-", "q")


def note(key: str) -> str:
    return f"note {word(key)}"


def index(search_mode: str = "hybrid") -> Any:
    return {"dims": DIMS, "embed": HashingEmbed(DIMS), "fields": ["text"], "search_mode": search_mode}


def batch_size(number: int) -> int:
    return 1 + number % 4


def batch_keys(name: str, number: int) -> list[str]:
    return [f"{name}-{number}-{j}" for j in range(batch_size(number))]


def latest_text(name: str, number: int) -> str:
    return f"latest {word(name)}b{number}"


def batch_ops(name: str, number: int) -> list[PutOp]:
    namespace = ("durable", name)
    ops = [
        PutOp(namespace, key, {"text": note(key), "batch": number})
        for key in batch_keys(name, number)
    ]
    ops.append(PutOp(namespace, f"{name}-latest", {"text": latest_text(name, number), "batch": number}))
    ops.append(PutOp(namespace, f"{name}-s{number}", {"text": note(f"{name}-s{number}")}))
    if number > 1:
        ops.append(PutOp(namespace, f"{name}-s{number - 1}", None))  # a delete
    return ops


# --- the writer ------------------------------------------------------------------------


class TracedConnection(sqlite3.Connection):
    """A connection that says in ``report`` whether a write transaction is open, and of what."""

    report = -1
    kind = b"?"  # what this connection's write transactions are: store (s) or checkpoint (c)
    _writing = False
    _current = b"?"

    def _say(self, state: bytes) -> None:
        os.pwrite(self.report, state + self._current, 0)

    def _look(self, sql: str) -> None:
        if self._writing and self._current == b"c" and "INTO checkpoint_writes" in sql:
            self._current = b"w"  # a task's pending writes, not a checkpoint
            self._say(b"I")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if sql == "COMMIT" and self._writing:
            self._say(b"C")
        self._look(sql)
        cursor = super().execute(sql, parameters)
        if sql == "BEGIN IMMEDIATE":
            self._writing, self._current = True, self.kind
            self._say(b"I")
        elif sql in ("COMMIT", "ROLLBACK") and self._writing:
            self._writing = False
            self._say(b"O")
        return cursor

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self._look(sql)
        return super().executemany(sql, parameters)


def traced(path: str, report: int, kind: bytes) -> TracedConnection:
    conn = sqlite3.connect(path, factory=TracedConnection, check_same_thread=False, timeout=5)
    assert isinstance(conn, TracedConnection)
    conn.report, conn.kind = report, kind
    return conn


def writer(path: str, name: str, slot: int) -> None:
    acks = os.open(f"{path}.{name}.acks", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    report = os.open(f"{path}.{name}.txn", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(report, b"O-", 0)

    def ack(line: str) -> None:
        os.write(acks, (line + "\n").encode())

    store = SqliteStore(traced(path, report, b"s"), index=index())
    store.setup()  # search_mode "hybrid": builds the keyword index if no writer has yet
    saver = SqliteSaver(traced(path, report, b"c"), turn_timeout=TURN_TIMEOUT)
    saver.setup()
    graph = chat_graph().compile(checkpointer=saver)
    lane = f"lane{slot}"
    lane_cfg, shared_cfg = thread_config(lane), thread_config(SHARED)
    # Finish the turn an earlier writer of this lane was killed in (running its pending
    # tasks may reach the review's interrupt, then resume that too); continue the lane.
    state = graph.get_state(lane_cfg)
    while state.next:
        resume = any(task.interrupts for task in state.tasks)
        graph.invoke(Command(resume="ok") if resume else None, lane_cfg)
        state = graph.get_state(lane_cfg)
    turn = sum(str(m.id).endswith("-h") for m in state.values.get("messages", []))
    ack("ready")
    number = 0
    while True:
        number += 1
        store.batch(batch_ops(name, number))
        ack(f"put {number}")
        if number % 2:
            turn += 1
            if "__interrupt__" in graph.invoke({"messages": [lane_message(lane, turn)]}, lane_cfg):
                graph.invoke(Command(resume="ok"), lane_cfg)
            head = saver.peek_latest(lane_cfg)
            assert head is not None
            ack(f"lane {lane} {turn} {head[0]}")
        else:
            message = HumanMessage(f"chat {name} {number}", id=f"{name}-{number}-h")
            for attempt in itertools.count(1):
                try:
                    graph.invoke({"messages": [message]}, shared_cfg)
                    break
                except CheckpointConflictError:
                    # Another writer advanced the thread, or is mid-turn: retry the turn.
                    ack("conflict")
                    time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            ack(f"shared {name}-{number}")


def warm_up() -> None:
    """Import what writers need before forking: a batch in memory and a compiled graph.

    Nothing here may start a thread (a forked child would wait forever on the locks of
    threads it does not have): the graph is compiled, never run.
    """
    with SqliteStore.from_conn_string(":memory:", index=index()) as store:
        store.batch(batch_ops("warm", 2))
        store.search(("durable",), query="warm", mode="hybrid")
    with SqliteSaver.from_conn_string(":memory:") as saver:
        chat_graph().compile(checkpointer=saver)
    assert threading.active_count() == 1


def zygote(path: str) -> None:
    warm_up()  # closes its connections: a SQLite connection must not cross a fork
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed writers are reaped automatically
    for line in sys.stdin:
        name, slot = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                writer(path, name, int(slot))
            except BaseException:
                # The test fails on any line of this file: a writer must only ever be killed.
                with open(f"{path}.{name}.error", "w") as out:
                    traceback.print_exc(file=out)
            finally:
                os._exit(1)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    zygote(sys.argv[2])
