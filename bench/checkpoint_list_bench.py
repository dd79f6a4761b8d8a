"""How long ``list()`` of one long chat thread takes, per saver.

A one-node chat graph (the node answers each human message) runs ``--turns``
turns on one thread, so the thread holds about two checkpoints per turn with
``messages`` stored as delta chains the way the engine writes them. Then the
whole thread is listed once and timed.

Run from the repository root::

    .venv/bin/python bench/checkpoint_list_bench.py --turns 600 --saver sqlite
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, MessagesState, StateGraph


def reply(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(f"answer {len(state['messages'])}")]}


def run(saver: Any, turns: int) -> tuple[int, float, float]:
    """``(checkpoints, seconds to build the thread, seconds to list it)``."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    graph = builder.compile(checkpointer=saver)
    config: dict[str, Any] = {"configurable": {"thread_id": "long"}}
    start = time.perf_counter()
    for i in range(turns):
        graph.invoke({"messages": [HumanMessage(f"question {i}")]}, config)
    built = time.perf_counter() - start
    start = time.perf_counter()
    listed = list(saver.list(config))
    return len(listed), built, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--saver", choices=["memory", "sqlite"], default="sqlite")
    args = parser.parse_args()
    if args.saver == "memory":
        count, built, listed = run(InMemorySaver(), args.turns)
    else:
        with tempfile.TemporaryDirectory() as directory, SqliteSaver.from_conn_string(
            str(Path(directory) / "bench.db")
        ) as saver:
            count, built, listed = run(saver, args.turns)
    print(f"{args.saver}: {args.turns} turns, {count} checkpoints: built in {built:.2f} s, list() {listed:.3f} s")


if __name__ == "__main__":
    main()
