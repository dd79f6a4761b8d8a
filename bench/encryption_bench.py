"""Cost of encryption at rest: the guide's graph on SqliteSaver, with and without EncryptedSerializer.

Run:  .venv/bin/python bench/encryption_bench.py              (300 turns per side)
      .venv/bin/python bench/encryption_bench.py --turns 100  (quicker)
      .venv/bin/python bench/encryption_bench.py --clock cpu  (CPU time: steadier on a busy machine)

The graph is the cross-thread persistence guide's (one node that searches the
store for the user's memories and replies from a chat model), with the offline
chat model and a fixed-vector embedder so that neither a model nor an embedding
dominates the figure. One thread grows turn by turn on a SQLite file; reported:
median milliseconds per turn over the whole run and over the last 50 turns, and
the median time of ``get_tuple`` of the grown thread's head (a read decrypts
every blob it needs). The two sides run interleaved, turn by turn. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.serde.encrypted import EncryptedSerializer
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.store.base import BaseStore
from threadloom.store.memory import InMemoryStore
from threadloom.testing.models import OfflineChatModel

CLOCK = time.perf_counter


def progress(message: str) -> None:
    print(f"[encryption_bench] {message}", file=sys.stderr, flush=True)


def fixed_embed(texts: list[str]) -> list[list[float]]:
    """Every text gets the same vector: the store's search cost without a model."""
    return [[0.1, 0.2, 0.3, 0.4] for _ in texts]


def guide_graph(saver: SqliteSaver) -> Any:
    """The guide's graph, compiled with ``saver`` and an in-memory store."""
    model = OfflineChatModel()

    def call_model(state: MessagesState, config: RunnableConfig, *, store: BaseStore) -> dict[str, Any]:
        namespace = ("memories", config["configurable"]["user_id"])
        memories = store.search(namespace, query=str(state["messages"][-1].content))
        info = "\n".join([d.value["data"] for d in memories])
        last_message = state["messages"][-1]
        if "remember" in str(last_message.content).lower():
            store.put(namespace, str(uuid.uuid4()), {"data": "User name is Bob"})
        response = model.invoke([{"role": "system", "content": f"User info: {info}"}, *state["messages"]])
        return {"messages": response}

    builder = StateGraph(MessagesState)
    builder.add_node("call_model", call_model)
    builder.add_edge(START, "call_model")
    store = InMemoryStore(index={"embed": fixed_embed, "dims": 4})
    return builder.compile(checkpointer=saver, store=store)


class Side:
    """One growing thread on its own SQLite file, plain or encrypted."""

    def __init__(self, label: str, serde: Any, folder: Path) -> None:
        self.label, self.path = label, folder / f"{label}.db"
        self._open = SqliteSaver.from_conn_string(str(self.path), serde=serde)
        self.saver = self._open.__enter__()
        self.saver.setup()
        self.graph = guide_graph(self.saver)
        self.turns: list[float] = []

    def turn(self, i: int, config: RunnableConfig) -> None:
        text = "Hi! Remember: my name is Bob" if i == 0 else f"message {i}: what is my name?"
        started = CLOCK()
        self.graph.invoke({"messages": [{"role": "user", "content": text}]}, config)
        self.turns.append((CLOCK() - started) * 1000)

    def read(self, config: RunnableConfig) -> float:
        """Milliseconds of one ``get_tuple`` of the head: every blob read, decrypted and decoded."""
        started = CLOCK()
        self.saver.get_tuple(config)
        return (CLOCK() - started) * 1000

    def close(self) -> None:
        self._open.__exit__(None, None, None)


def run(turns: int, folder: Path) -> dict[str, dict[str, float]]:
    """Both sides turn by turn, interleaved, so that machine noise hits them alike."""
    config: RunnableConfig = {"configurable": {"thread_id": "t", "user_id": "u"}}
    sides = [Side("plain", None, folder), Side("AES-GCM", EncryptedSerializer.from_aes_gcm([os.urandom(32)]), folder)]
    try:
        for i in range(turns):
            for side in sides if i % 2 else reversed(sides):
                side.turn(i, config)
            if (i + 1) % 50 == 0:
                progress(f"{i + 1}/{turns} turns: " + ", ".join(f"{s.label} {statistics.median(s.turns[-50:]):.2f} ms" for s in sides))
        reads: dict[str, list[float]] = {s.label: [] for s in sides}
        for _ in range(30):
            for side in sides:
                reads[side.label].append(side.read(config))
        return {
            s.label: {
                "turn (median, all)": statistics.median(s.turns),
                "turn (median, last 50)": statistics.median(s.turns[-50:]),
                "get_tuple of the head": statistics.median(reads[s.label]),
                "file MB": s.path.stat().st_size / 1e6,
            }
            for s in sides
        }
    finally:
        for side in sides:
            side.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300, help="turns on the one thread (default 300)")
    parser.add_argument(
        "--clock", choices=["wall", "cpu"], default="wall", help="wall time, or this process's CPU time (steadier on a busy machine)"
    )
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    with tempfile.TemporaryDirectory() as folder:
        results = run(args.turns, Path(folder))
    print(f"\nguide graph on SqliteSaver, {args.turns} turns on one thread ({args.clock} ms; file in MB)")
    print(f"{'':26}{'plain':>10}{'AES-GCM':>10}{'cost':>9}")
    for key in results["plain"]:
        plain, enc = results["plain"][key], results["AES-GCM"][key]
        print(f"{key:26}{plain:10.3f}{enc:10.3f}{(enc / plain - 1) * 100:8.1f}%")


if __name__ == "__main__":
    main()
