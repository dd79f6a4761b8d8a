"""threadloom vs LangGraph, side by side: overhead of a functional-API workflow.

Run:  .venv/bin/python bench/func_bench.py [--clock cpu] [--repeats N] [--loops N]

The workflow is an ``@entrypoint`` with an in-memory saver that calls 10
``@task``\\ s (trivial functions) and waits for their results: what is timed is
the framework's own cost per run (scheduling, checkpointing the run, streaming
nothing). Three shapes: the 10 calls one after another, all 10 started at once
and then awaited, and the sequential shape with ``durability="exit"``. Figures
are medians of several repeats, in milliseconds per ``invoke``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

CLOCK: Callable[[], float] = time.perf_counter


def progress(message: str) -> None:
    print(f"[func_bench] {message}", file=sys.stderr, flush=True)


def workflows(side: str) -> dict[str, Any]:
    """The benchmark workflows, built with one library's decorators."""
    if side == "threadloom":
        from threadloom.checkpoint.memory import InMemorySaver
        from threadloom.func import entrypoint, task
    else:
        from langgraph.checkpoint.memory import InMemorySaver  # type: ignore[no-redef]
        from langgraph.func import entrypoint, task  # type: ignore[no-redef]

    @task
    def step(x: int) -> int:
        return x + 1

    @entrypoint(checkpointer=InMemorySaver())
    def sequential(x: int) -> int:
        for _ in range(10):
            x = step(x).result()
        return x

    @entrypoint(checkpointer=InMemorySaver())
    def parallel(x: int) -> int:
        futures = [step(x + i) for i in range(10)]
        return sum(f.result() for f in futures)

    return {"sequential": sequential, "parallel": parallel}


def measure(graph: Any, loops: int, repeats: int, **options: Any) -> float:
    """Median milliseconds per invoke, each on a fresh thread."""
    counter = iter(range(10**9))
    samples = []
    for _ in range(repeats):
        start = CLOCK()
        for _ in range(loops):
            graph.invoke(1, {"configurable": {"thread_id": str(next(counter))}}, **options)
        samples.append((CLOCK() - start) / loops * 1000)
    return statistics.median(samples)


def main() -> None:
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="what to time")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loops", type=int, default=100)
    args = parser.parse_args()
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    cases = [
        ("10 sequential tasks", "sequential", {}),
        ("10 parallel tasks", "parallel", {}),
        ('10 sequential tasks, durability="exit"', "sequential", {"durability": "exit"}),
    ]
    results: dict[str, dict[str, float]] = {}
    for side in ("threadloom", "langgraph"):
        graphs = workflows(side)
        for label, name, options in cases:
            progress(f"{side}: {label}")
            graph = graphs[name]
            measure(graph, max(1, args.loops // 10), 1, **options)  # warm up
            results.setdefault(label, {})[side] = measure(
                graph, args.loops, args.repeats, **options
            )
    print(f"timing: {args.clock} clock, median of {args.repeats} x {args.loops} invokes")
    print(
        "| workflow (entrypoint + InMemorySaver) | threadloom (ms) | LangGraph (ms) | LangGraph / threadloom |"
    )
    print("|---|---:|---:|---:|")
    for label, row in results.items():
        ours, theirs = row["threadloom"], row["langgraph"]
        print(f"| {label} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
