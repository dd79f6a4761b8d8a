"""threadloom vs LangGraph, side by side in one process: per-invoke overhead of the graph runtime.

Run:  .venv/bin/python bench/graph_bench.py            (full: ~1 minute)
      .venv/bin/python bench/graph_bench.py --quick    (smaller loops, turns up to 200)
      .venv/bin/python bench/graph_bench.py --saver sqlite --turns-only
                                     (guide-shaped turns on each library's SqliteSaver)

Cases: a 1-node graph; a 10-node chain without and with InMemorySaver; a
10-way fan-out/fan-in; and the guide-shaped turn (one node that searches the
store and appends a reply, MessagesState, MemorySaver, InMemoryStore with a
fixed-vector embedder) measured as one thread grows to 10/100/500/1000 turns.
Figures are medians of several repeats, in milliseconds per invoke (or turn);
``--clock cpu`` measures process CPU time instead of wall time, which is
steadier on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import itertools
import operator
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from typing_extensions import TypedDict


class State(TypedDict):
    x: int


class FanState(TypedDict):
    x: int
    log: Annotated[list[int], operator.add]


def fixed_embed(texts: list[str]) -> list[list[float]]:
    """Every text gets the same vector: the store's search cost without a model."""
    return [[0.1, 0.2, 0.3, 0.4] for _ in texts]


def _worker(i: int) -> Callable[[Any], dict[str, Any]]:
    return lambda s: {"log": [i]}


def progress(message: str) -> None:
    print(f"[graph_bench] {message}", file=sys.stderr, flush=True)


class Side:
    """The imports of one library, so both are built by the same code."""

    def __init__(self, name: str, saver: str = "memory") -> None:
        self.name = name
        self.saver_kind = saver
        if name == "threadloom":
            from threadloom.checkpoint.memory import InMemorySaver
            from threadloom.graph import END, START, MessagesState, StateGraph
            from threadloom.store.base import BaseStore
            from threadloom.store.memory import InMemoryStore
        else:
            from langgraph.checkpoint.memory import InMemorySaver  # type: ignore[no-redef]
            from langgraph.graph import END, START, MessagesState, StateGraph  # type: ignore[no-redef]
            from langgraph.store.base import BaseStore  # type: ignore[no-redef]
            from langgraph.store.memory import InMemoryStore  # type: ignore[no-redef]
        self.StateGraph = StateGraph
        self.START, self.END = START, END
        self.MessagesState = MessagesState
        self.InMemorySaver = InMemorySaver
        self.InMemoryStore = InMemoryStore
        self.BaseStore = BaseStore

    def one_node(self) -> Any:
        b = self.StateGraph(State)
        b.add_node("a", lambda s: {"x": s["x"] + 1})
        b.add_edge(self.START, "a")
        return b.compile()

    def chain(self, saver: bool) -> Any:
        b = self.StateGraph(State)
        names = [f"n{i}" for i in range(10)]
        for n in names:
            b.add_node(n, lambda s: {"x": s["x"] + 1})
        b.add_edge(self.START, names[0])
        for a, c in itertools.pairwise(names):
            b.add_edge(a, c)
        b.add_edge(names[-1], self.END)
        return b.compile(checkpointer=self.InMemorySaver() if saver else None)

    def fan(self) -> Any:
        b = self.StateGraph(FanState)
        b.add_node("src", lambda s: {"x": 1})
        workers = [f"w{i}" for i in range(10)]
        for i, w in enumerate(workers):
            b.add_node(w, _worker(i))
            b.add_edge("src", w)
        b.add_node("sink", lambda s: {"x": len(s["log"])})
        b.add_edge(workers, "sink")
        b.add_edge(self.START, "src")
        return b.compile()

    def guide(self) -> Any:
        store = self.InMemoryStore(index={"embed": fixed_embed, "dims": 4})
        for i in range(5):
            store.put(("memories", "1"), f"m{i}", {"data": f"fact {i}"})

        def call_model(state: Any, config: RunnableConfig, *, store: Any) -> dict[str, Any]:
            namespace = ("memories", config["configurable"]["user_id"])
            memories = store.search(namespace, query=str(state["messages"][-1].content))
            info = "; ".join(d.value["data"] for d in memories)
            return {"messages": AIMessage(f"noted ({len(info)} chars of memories)")}

        # Real annotation objects, as the guide has them (this module's annotations are strings).
        call_model.__annotations__.update(config=RunnableConfig, store=self.BaseStore)
        b = self.StateGraph(self.MessagesState)
        b.add_node("call_model", call_model)
        b.add_edge(self.START, "call_model")
        return b.compile(checkpointer=self.guide_saver(), store=store)

    def guide_saver(self) -> Any:
        """The checkpointer of the guide-shaped turn: in memory, or a SQLite file."""
        if self.saver_kind == "memory":
            return self.InMemorySaver()
        path = f"{tempfile.mkdtemp(prefix='graph-bench-')}/{self.name}.db"
        if self.name == "threadloom":
            from threadloom.checkpoint.sqlite import SqliteSaver

            saver = SqliteSaver(path)
        else:
            from langgraph.checkpoint.sqlite import SqliteSaver  # type: ignore[no-redef]

            saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
        saver.setup()
        return saver


CLOCK = time.perf_counter


def per_call(fn: Callable[[], Any], loops: int, repeats: int) -> float:
    """Median milliseconds per call of ``fn`` over ``repeats`` runs of ``loops`` calls."""
    fn()
    samples = []
    for _ in range(repeats):
        start = CLOCK()
        for _ in range(loops):
            fn()
        samples.append((CLOCK() - start) * 1000 / loops)
    return statistics.median(samples)


def bench_fixed(side: Side, scale: float) -> dict[str, float]:
    out: dict[str, float] = {}
    g = side.one_node()
    out["1-node invoke"] = per_call(lambda: g.invoke({"x": 0}), int(2000 * scale), 5)
    progress(f"{side.name}: 1-node {out['1-node invoke']:.3f} ms")
    g = side.chain(saver=False)
    out["10-node chain"] = per_call(lambda: g.invoke({"x": 0}), int(300 * scale), 5)
    progress(f"{side.name}: chain {out['10-node chain']:.3f} ms")
    g = side.chain(saver=True)
    cfg = {"configurable": {"thread_id": "chain"}}
    out["10-node chain + InMemorySaver"] = per_call(
        lambda: g.invoke({"x": 0}, cfg), int(100 * scale), 5
    )
    progress(f"{side.name}: chain+saver {out['10-node chain + InMemorySaver']:.3f} ms")
    g = side.fan()
    out["10-way fan-out/fan-in"] = per_call(
        lambda: g.invoke({"x": 0, "log": []}), int(100 * scale), 5
    )
    progress(f"{side.name}: fan-out {out['10-way fan-out/fan-in']:.3f} ms")
    return out


def bench_turns(side: Side, checkpoints: list[int], window: int) -> dict[str, float]:
    """Grow one thread turn by turn; at each checkpoint time the next ``window`` turns."""
    graph = side.guide()
    cfg = {"configurable": {"thread_id": str(uuid.uuid4()), "user_id": "1"}}
    done = 0
    out: dict[str, float] = {}

    def turn() -> None:
        nonlocal done
        message = {"role": "user", "content": f"turn {done}: remember this"}
        for _chunk in graph.stream({"messages": [message]}, cfg, stream_mode="values"):
            pass
        done += 1

    for target in checkpoints:
        while done < target:
            turn()
        samples = []
        for _ in range(window):
            start = CLOCK()
            turn()
            samples.append((CLOCK() - start) * 1000)
        out[f"guide turn @{target} turns"] = statistics.median(samples)
        progress(f"{side.name}: turn @{target}: {out[f'guide turn @{target} turns']:.3f} ms")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller loops, turns up to 200")
    parser.add_argument("--only", choices=["threadloom", "langgraph"], help="run one side")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="what to time")
    parser.add_argument(
        "--saver", choices=["memory", "sqlite"], default="memory", help="guide turn checkpointer"
    )
    parser.add_argument("--turns-only", action="store_true", help="only the guide-shaped turns")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    progress(f"timing with the {args.clock} clock")
    scale = 0.25 if args.quick else 1.0
    checkpoints = [10, 50, 200] if args.quick else [10, 100, 500, 1000]
    window = 10 if args.quick else 30
    names = [args.only] if args.only else ["threadloom", "langgraph"]
    results: dict[str, dict[str, float]] = {}
    for name in names:
        side = Side(name, args.saver)
        figures = {}
        if not args.turns_only:
            progress(f"{name}: fixed graphs")
            figures = bench_fixed(side, scale)
        progress(f"{name}: guide-shaped turns on one growing thread ({args.saver} saver)")
        figures.update(bench_turns(side, checkpoints, window))
        results[name] = figures
    rows = list(next(iter(results.values())))
    if len(results) == 2:
        print("| case | threadloom (ms) | LangGraph (ms) | LangGraph / threadloom |")
        print("|---|---:|---:|---:|")
        for row in rows:
            ours, theirs = results["threadloom"][row], results["langgraph"][row]
            print(f"| {row} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x |")
    else:
        print(f"| case | {names[0]} (ms) |")
        print("|---|---:|")
        for row in rows:
            print(f"| {row} | {results[names[0]][row]:.3f} |")


if __name__ == "__main__":
    main()
