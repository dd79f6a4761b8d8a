"""Checkpointer benchmark: threadloom's savers and LangGraph's, side by side, raw saver calls.

Two measurements, each on InMemorySaver and SqliteSaver of both libraries:

1. Throughput: ``put`` of a small three-channel checkpoint, then ``get_tuple``
   of a thread's latest checkpoint (operations per second, best of three rounds).
2. Long-thread growth: a chat thread grows turn by turn to 1,000 turns. A
   turn is what each engine asks of its saver for a one-node chat graph: look
   up the thread (LangGraph's engine reads the latest checkpoint with
   ``get_tuple``; threadloom's engine keeps the channels it just wrote and
   checks them with ``peek_latest``), put the input checkpoint with the human
   message, ``put_writes`` the node's reply, and put the step's checkpoint.
   LangGraph checkpoints carry the whole message list (its format);
   threadloom's carry a ``DeltaValue`` of the new message with a full
   snapshot once the chain is as long as the last snapshot (and at least
   ``--snapshot-every`` deltas): geometric snapshots keep the amortized cost
   per turn flat and a replay at most about twice the history. Reported:
   the median and mean turn time over turns N/2..N for N = 10/100/500/1000
   (the mean includes the snapshot turns), and the median of five cold
   ``get_tuple`` of the thread at that length (LangGraph deserializes the whole
   history; threadloom returns the snapshot plus the deltas to replay).

Run from the repository root::

    .venv/bin/python bench/checkpoint_bench.py            # full run (about a minute)
    .venv/bin/python bench/checkpoint_bench.py --quick    # smaller sizes, a few seconds
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.memory import InMemorySaver as LGInMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver as LGSqliteSaver

from threadloom.checkpoint.base import DeltaValue
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver

Saver = Any


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def open_saver(kind: str, directory: Path) -> Iterator[Saver]:
    """A fresh saver of one of the four kinds."""
    if kind == "threadloom InMemorySaver":
        yield InMemorySaver()
    elif kind == "LangGraph InMemorySaver":
        yield LGInMemorySaver()
    elif kind == "threadloom SqliteSaver":
        path = directory / f"tl-{uuid6()}.db"
        with SqliteSaver.from_conn_string(path) as saver:
            yield saver
    elif kind == "LangGraph SqliteSaver":
        path = directory / f"lg-{uuid6()}.db"
        conn = sqlite3.connect(path, check_same_thread=False)
        saver = LGSqliteSaver(conn)
        saver.setup()
        yield saver
        conn.close()
    else:
        raise ValueError(kind)


KINDS = ["threadloom InMemorySaver", "LangGraph InMemorySaver", "threadloom SqliteSaver", "LangGraph SqliteSaver"]


def is_langgraph(kind: str) -> bool:
    return kind.startswith("LangGraph")


def checkpoint(values: dict[str, Any], versions: dict[str, Any], seen: dict[str, Any], langgraph: bool) -> dict[str, Any]:
    return {
        "v": 4,  # the format both engines write (no pending sends migration on load)
        "id": str(uuid6()),
        "ts": datetime.now(timezone.utc).isoformat(),
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": seen,
        "updated_channels": list(values),
    }


# --- 1. throughput -------------------------------------------------------------


def throughput(kind: str, directory: Path, n: int, repeats: int = 3) -> tuple[float, float]:
    """(puts per second, get_tuple per second) on a small checkpoint; best of ``repeats`` rounds."""
    put_rates: list[float] = []
    get_rates: list[float] = []
    with open_saver(kind, directory) as saver:
        lg = is_langgraph(kind)
        config: dict[str, Any] = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        latest = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
        version = None
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(n):
                version = saver.get_next_version(version, None)
                values = {"count": i, "name": "bench", "flags": {"a": True, "b": [1, 2, 3]}}
                versions = {"count": version, "name": version, "flags": version}
                config = saver.put(config, checkpoint(values, versions, {"node": {"count": version}}, lg),
                                   {"source": "loop", "step": i}, versions)
            put_rates.append(n / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(n):
                saver.get_tuple(latest)
            get_rates.append(n / (time.perf_counter() - start))
    return max(put_rates), max(get_rates)


# --- 2. long-thread growth -------------------------------------------------------


def human(i: int) -> HumanMessage:
    return HumanMessage(f"Turn {i}: please remember that my favourite number is {i} and tell me a fact.", id=f"h{i}")


def ai(i: int) -> AIMessage:
    return AIMessage(
        f"Noted, your favourite number is {i}. Here is a fact: " + "the octopus has three hearts. " * 6,
        id=f"a{i}",
        response_metadata={"model_name": "offline", "finish_reason": "stop"},
        usage_metadata={"input_tokens": 40 + i, "output_tokens": 60, "total_tokens": 100 + i},
    )


class Thread:
    """One chat thread driven through a saver the way each engine drives it."""

    def __init__(self, saver: Saver, langgraph: bool, snapshot_every: int) -> None:
        self.saver = saver
        self.langgraph = langgraph
        self.snapshot_every = snapshot_every
        self.thread: dict[str, Any] = {"configurable": {"thread_id": "chat", "checkpoint_ns": ""}}
        self.config: dict[str, Any] = self.thread
        self.messages: list[Any] = []
        self.version: Any = None
        self.depth = 0
        self.snapshot_len = 0
        self.step = -1

    def _put(self, new: list[Any], source: str) -> None:
        self.messages.extend(new)
        next_version = self.saver.get_next_version(self.version, None)
        if self.langgraph:
            value: Any = list(self.messages)  # LangGraph's format: the channel's whole value
        elif self.version is None or self.depth >= max(self.snapshot_every, self.snapshot_len):
            # Geometric snapshots: the chain may grow as long as the last snapshot, so
            # re-serializing the history costs O(1) per message amortized and a replay
            # is at most about twice the history.
            value, self.depth, self.snapshot_len = list(self.messages), 0, len(self.messages)
        else:
            value, self.depth = DeltaValue(self.version, (new,)), self.depth + 1
        versions = {"messages": next_version, "branch:to:chat": next_version}
        ckpt = checkpoint({"messages": value, "branch:to:chat": None}, versions, {"chat": {"messages": self.version}}, self.langgraph)
        self.step += 1
        self.config = self.saver.put(self.config, ckpt, {"source": source, "step": self.step}, versions)
        self.version = next_version

    def turn(self, i: int) -> None:
        if self.langgraph:
            self.saver.get_tuple(self.thread)
        else:
            self.saver.peek_latest(self.thread)
        self._put([human(i)], "input")
        reply = ai(i)
        self.saver.put_writes(self.config, [("messages", [reply])], f"task-{i}")
        self._put([reply], "loop")


def growth(kind: str, directory: Path, marks: list[int], snapshot_every: int) -> dict[int, tuple[float, float, float]]:
    """Turn number N -> (median and mean ms per turn over turns N/2..N, cold get_tuple ms at N)."""
    results: dict[int, tuple[float, float, float]] = {}
    with open_saver(kind, directory) as saver:
        thread = Thread(saver, is_langgraph(kind), snapshot_every)
        times: list[float] = []
        for i in range(1, max(marks) + 1):
            start = time.perf_counter()
            thread.turn(i)
            times.append(time.perf_counter() - start)
            if i in marks:
                window = times[i // 2 :]  # turns (N/2, N]: long enough to average snapshot turns in
                reads = []
                for _ in range(5):
                    start = time.perf_counter()
                    got = saver.get_tuple(thread.thread)
                    reads.append((time.perf_counter() - start) * 1000)
                    assert got is not None
                read_ms = statistics.median(reads)
                results[i] = (statistics.median(window) * 1000, statistics.mean(window) * 1000, read_ms)
                progress(f"  {kind}: {i} turns, {results[i][1]:.3f} ms/turn")
    return results


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--ops", type=int, default=2000, help="operations for the throughput test")
    parser.add_argument("--snapshot-every", type=int, default=50, help="fewest deltas between full message snapshots")
    args = parser.parse_args(argv)
    marks = [10, 100] if args.quick else [10, 100, 500, 1000]
    ops = 200 if args.quick else args.ops
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        progress("throughput ...")
        rates = {kind: throughput(kind, directory, ops) for kind in KINDS}
        progress("long-thread growth ...")
        grown = {kind: growth(kind, directory, marks, args.snapshot_every) for kind in KINDS}
    print(f"\n## Throughput ({ops} ops per round, best of 3, small 3-channel checkpoint)\n")
    print(table(["saver", "put / s", "get_tuple / s"],
                [[k, f"{rates[k][0]:,.0f}", f"{rates[k][1]:,.0f}"] for k in KINDS]))
    print("\n## Long thread: ms per turn over turns N/2..N, median / mean (snapshot turns included)\n")
    print(table(["saver", *(f"{m} turns" for m in marks)],
                [[k, *(f"{grown[k][m][0]:.3f} / {grown[k][m][1]:.3f}" for m in marks)] for k in KINDS]))
    print("\n## Long thread: cold get_tuple of the thread, ms (median of 5)\n")
    print(table(["saver", *(f"{m} turns" for m in marks)],
                [[k, *(f"{grown[k][m][2]:.2f}" for m in marks)] for k in KINDS]))
    print(f"\n(threadloom snapshots: geometric, >= {args.snapshot_every} deltas apart)")

if __name__ == "__main__":
    main()
