"""threadloom's InMemoryStore vs LangGraph's InMemoryStore, side by side on the same data.

Items carry fixed random 384-dim vectors: both stores get an embedder that
looks the vectors up, so embedding time is excluded. Items are spread over
100 user namespaces ``("memories", "user<N>")``.

Single puts (``store.put`` of one new item, 5,000 of them into a fresh store)
are measured with and without the index: one put per memory is how
applications write. Both stores take turns in one process, round after round
(``--put-rounds``, best round of each), so a neighbour's load on a shared
machine falls on both alike; the other rows come from one fresh process per
store.

Run: ``.venv/bin/python bench/store_bench.py`` (needs ``pip install -r bench/requirements.txt``).
Options: ``--sizes 10000 100000``, ``--only threadloom``, ``--batch 1000``.
Each store and size runs in a fresh process, so neither inherits memory the
other freed.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

DIMS = 384
USERS = 100
KINDS = ("fact", "preference", "event", "note")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class LookupEmbeddings(Embeddings):
    """Returns precomputed vectors: the text ``"memory 17"`` gets row 17, ``"query 3"`` query row 3."""

    def __init__(self, docs: np.ndarray, queries: np.ndarray) -> None:
        self.docs = docs
        self.queries = queries

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        rows = self.docs[[int(t.rsplit(" ", 1)[1]) for t in texts]]
        return list(rows)  # type: ignore[arg-type]  # numpy rows, as many embedders return

    def embed_query(self, text: str) -> list[float]:
        return self.queries[int(text.rsplit(" ", 1)[1])]  # type: ignore[return-value]


def make_items(n: int) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    return [
        (
            ("memories", f"user{i % USERS}"),
            f"m{i}",
            # kind and score vary inside each user's namespace (i // USERS), not per user.
            {
                "text": f"memory {i}",
                "kind": KINDS[i // USERS % 4],
                "score": i // USERS % 10,
                "id": i,
            },
        )
        for i in range(n)
    ]


def make_store(impl: str, embeddings: Embeddings) -> Any:
    index = {"dims": DIMS, "embed": embeddings, "fields": ["text"]}
    if impl == "threadloom":
        from threadloom.store.memory import InMemoryStore

        return InMemoryStore(index=index)  # type: ignore[arg-type]
    from langgraph.store.memory import InMemoryStore as LangGraphStore

    return LangGraphStore(index=index)  # type: ignore[arg-type]


def fill(store: Any, items: list[Any], batch: int, progress: bool = True) -> tuple[float, float]:
    """Put every item in batches; returns (wall seconds, CPU seconds)."""
    if store.__module__.startswith("threadloom"):
        from threadloom.store.base import PutOp
    else:
        from langgraph.store.base import PutOp  # type: ignore[assignment]
    wall, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, len(items), batch):
        store.batch([PutOp(ns, key, value) for ns, key, value in items[offset : offset + batch]])
        if progress and (offset // batch) % max(1, len(items) // batch // 5) == 0:
            log(f"  put {offset + batch:,}/{len(items):,}")
    return time.perf_counter() - wall, time.process_time() - cpu


SINGLE_PUTS = 5_000


def single_puts(
    impl: str, embeddings: Embeddings, items: list[Any], indexed: bool
) -> tuple[float, float]:
    """(wall, CPU) seconds per ``store.put`` of one new item into a fresh store."""
    store = make_store(impl, embeddings) if indexed else make_plain_store(impl)
    chosen = items[:SINGLE_PUTS]
    wall, cpu = time.perf_counter(), time.process_time()
    for ns, key, value in chosen:
        store.put(ns, key, value)
    return (
        (time.perf_counter() - wall) / len(chosen),
        (time.process_time() - cpu) / len(chosen),
    )


def single_puts_side_by_side(impls: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """Single-put figures per store: both take turns in this process, best round of each."""
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((SINGLE_PUTS, DIMS), dtype=np.float32)
    embeddings = LookupEmbeddings(docs, docs[:1])
    items = make_items(SINGLE_PUTS)
    best: dict[str, dict[str, float]] = {impl: {} for impl in impls}
    for number in range(rounds):
        log(f"single puts, round {number + 1}/{rounds}")
        for impl in impls:
            for name, indexed in (("single_put_us", True), ("single_put_noindex_us", False)):
                wall, cpu = single_puts(impl, embeddings, items, indexed)
                mine = best[impl]
                mine[name] = min(mine.get(name, math.inf), wall * 1e6)
                mine[name + "_cpu"] = min(mine.get(name + "_cpu", math.inf), cpu * 1e6)
    return best


def make_plain_store(impl: str) -> Any:
    if impl == "threadloom":
        from threadloom.store.memory import InMemoryStore

        return InMemoryStore()
    from langgraph.store.memory import InMemoryStore as LangGraphStore

    return LangGraphStore()


def timed(func: Callable[[], Any], repeat: int, per_call: int = 1) -> tuple[float, float]:
    """Median (wall, CPU) seconds per call over ``repeat`` runs of ``func``.

    CPU time (all threads of the process) is reported next to wall time: on a
    shared machine wall time mostly measures the neighbours.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append((time.perf_counter() - wall) / per_call)
        cpus.append((time.process_time() - cpu) / per_call)
    return statistics.median(walls), statistics.median(cpus)


def measure(
    impl: str, n: int, docs: np.ndarray, queries: np.ndarray, batch: int
) -> dict[str, float]:
    embeddings = LookupEmbeddings(docs, queries)
    items = make_items(n)
    results: dict[str, float] = {}

    log(f"{impl} {n:,}: put")
    store = make_store(impl, embeddings)
    wall, cpu = fill(store, items, batch)
    results["put_per_s"], results["put_per_s_cpu"] = n / wall, n / cpu

    def record(name: str, scale: float, measured: tuple[float, float]) -> None:
        results[name], results[name + "_cpu"] = measured[0] * scale, measured[1] * scale


    rng = np.random.default_rng(1)
    picks = [int(i) for i in rng.integers(0, n, 2000)]
    log(f"{impl} {n:,}: get")
    record(
        "get_us",
        1e6,
        timed(lambda: [store.get(items[i][0], items[i][1]) for i in picks], 3, len(picks)),
    )

    # LangGraph's global search takes seconds at 100k; fewer repeats keep the run short.
    slow = impl == "langgraph" and n > 20_000
    counter = iter(range(10**9))

    def query() -> str:
        return f"query {next(counter) % len(queries)}"

    def user() -> tuple[str, str]:
        return ("memories", f"user{next(counter) % USERS}")

    log(f"{impl} {n:,}: search across all namespaces")
    record(
        "search_all_ms",
        1e3,
        timed(lambda: store.search(("memories",), query=query(), limit=10), 3 if slow else 30),
    )
    log(f"{impl} {n:,}: search in one user's namespace")
    record(
        "search_user_ms",
        1e3,
        timed(lambda: store.search(user(), query=query(), limit=10), 20 if slow else 200),
    )
    log(f"{impl} {n:,}: filter-only search")
    record(
        "filter_ms",
        1e3,
        timed(
            lambda: store.search(
                ("memories",), filter={"kind": "event", "score": {"$gte": 8}}, limit=10
            ),
            5 if slow else 30,
        ),
    )
    record(
        "filter_user_ms",
        1e3,
        timed(lambda: store.search(user(), filter={"score": {"$gt": 5}}, limit=10), 200),
    )

    if impl == "threadloom":
        log(f"{impl} {n:,}: recall@10 against brute force")
        unit = docs[:n] / np.linalg.norm(docs[:n], axis=1, keepdims=True)
        hits = 0
        for j in range(20):
            exact = set(np.argsort(-(unit @ queries[j]))[:10].tolist())
            got = {
                int(h.key[1:]) for h in store.search(("memories",), query=f"query {j}", limit=10)
            }
            hits += len(exact & got)
        results["recall_at_10"] = hits / 200
    store = None  # free it before the memory pass
    gc.collect()
    # Memory last, so the timed passes are not run on memory the first pass freed.
    log(f"{impl} {n:,}: memory pass (tracemalloc)")
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    probe = make_store(impl, embeddings)
    fill(probe, items, batch, progress=False)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results["retained_mb"] = (current - base) / 1e6
    results["peak_mb"] = (peak - base) / 1e6
    return results


def values_mb(n: int) -> float:
    """Bytes the item values themselves take as Python dicts (the 'plus values' allowance)."""
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    items = make_items(n)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del items
    return (current - base) / 1e6


ROWS = [
    ("batched put (items/s)", "put_per_s", True, "{:,.0f}"),
    ("single put, 384-dim index (µs)", "single_put_us", False, "{:.1f}"),
    ("single put, no index (µs)", "single_put_noindex_us", False, "{:.1f}"),
    ("get latency (µs)", "get_us", False, "{:.1f}"),
    ("search all namespaces, query (ms)", "search_all_ms", False, "{:.2f}"),
    ("search one user's namespace, query (ms)", "search_user_ms", False, "{:.3f}"),
    ("filter-only search, all namespaces (ms)", "filter_ms", False, "{:.2f}"),
    ("filter-only search, one user (ms)", "filter_user_ms", False, "{:.3f}"),
    ("peak memory while filling (MB, tracemalloc)", "peak_mb", False, "{:.0f}"),
    ("retained memory (MB, tracemalloc)", "retained_mb", False, "{:.0f}"),
]


def table(n: int, results: dict[str, dict[str, float]]) -> str:
    ours, theirs = results.get("threadloom", {}), results.get("langgraph", {})
    lines = [
        f"### {n:,} items, {USERS} user namespaces, {DIMS}-dim vectors",
        "",
        "Medians (single puts: the best of the side-by-side rounds); wall time, with CPU time "
        "in brackets (the process's CPU seconds, all threads).",
        "",
        "| metric | threadloom | LangGraph | threadloom advantage (wall / CPU) |",
        "|---|---:|---:|---:|",
    ]

    def cell(side: dict[str, float], key: str, fmt: str) -> str:
        if key not in side:
            return "-"
        text = fmt.format(side[key])
        if key + "_cpu" in side:
            text += f" ({fmt.format(side[key + '_cpu'])})"
        return text

    def ratio(a: float | None, b: float | None, higher_better: bool) -> str:
        if not a or not b:
            return "-"
        return f"{(a / b) if higher_better else (b / a):.1f}x"

    for label, key, higher_better, fmt in ROWS:
        ratios = ratio(ours.get(key), theirs.get(key), higher_better)
        if key + "_cpu" in ours:
            cpu = ratio(ours.get(key + "_cpu"), theirs.get(key + "_cpu"), higher_better)
            ratios += f" / {cpu}"
        lines.append(f"| {label} | {cell(ours, key, fmt)} | {cell(theirs, key, fmt)} | {ratios} |")
    raw = n * DIMS * 4 / 1e6
    vals = values_mb(n)
    lines.append("")
    lines.append(
        f"Raw vector bytes {raw:.0f} MB, values {vals:.0f} MB; threadloom peak / (raw + values) = "
        f"{ours.get('peak_mb', float('nan')) / (raw + vals):.2f}, retained / (raw + values) = "
        f"{ours.get('retained_mb', float('nan')) / (raw + vals):.2f}."
    )
    if "recall_at_10" in ours:
        lines.append(
            f"threadloom recall@10 against brute force: {ours['recall_at_10']:.2f} (exact search)."
        )
    return "\n".join(lines)


def worker(impl: str, n: int, batch: int) -> None:
    """Measure one store at one size in this (fresh) process; print JSON results."""
    rng = np.random.default_rng(0)
    log(f"{impl} {n:,}: generating {n:,} fixed random {DIMS}-dim vectors")
    docs = rng.standard_normal((n, DIMS), dtype=np.float32)
    queries = rng.standard_normal((64, DIMS), dtype=np.float32)
    print(json.dumps(measure(impl, n, docs, queries, batch)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--only", choices=["threadloom", "langgraph"])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--put-rounds", type=int, default=7, help="rounds of the side-by-side single puts"
    )
    parser.add_argument("--worker", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.batch)
        return
    impls = [args.only] if args.only else ["threadloom", "langgraph"]
    # Wall times on a shared machine follow its load: report it at both ends.
    start_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    puts = single_puts_side_by_side(impls, args.put_rounds)
    for n in args.sizes:
        results = {}
        for impl in impls:
            # A fresh process per store and size: neither inherits the other's freed memory.
            command = [
                sys.executable,
                __file__,
                "--worker",
                impl,
                str(n),
                "--batch",
                str(args.batch),
            ]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            results[impl] = json.loads(done.stdout.strip().splitlines()[-1]) | puts[impl]
        print(table(n, results) + "\n", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"numpy {np.__version__}, Python {sys.version.split()[0]}, batch size {args.batch}, "
        f"{os.cpu_count()} CPUs, load average at the start {start_load:.1f}, at the end {load:.1f}"
    )


if __name__ == "__main__":
    main()
