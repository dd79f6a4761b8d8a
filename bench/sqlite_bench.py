"""threadloom's SqliteStore next to LangGraph's SqliteStore, on the same data.

100k items in 100 user namespaces, fixed 384-dim vectors (a lookup "embedder",
so embedding time is excluded), one file per store. Measured: batched put
throughput, opening the file plus the first semantic search, semantic search
in one user's namespace and across all, get latency, single puts into the
filled file, and (threadloom only: LangGraph's store has no such modes)
keyword and hybrid search next to vector search on the same data: after one
untimed search per namespace in each mode, the modes take turns in rounds of
ten searches, and once more as a chat does it, each search right after a put
into its namespace.

LangGraph's store needs ``sqlite-vec``, which needs a Python whose ``sqlite3``
can load extensions. When this interpreter cannot, pass another one that can
(with langgraph, langgraph-checkpoint-sqlite, sqlite-vec and numpy installed)::

    /usr/bin/python3 -m venv /tmp/lg && /tmp/lg/bin/pip install langgraph \\
        langgraph-checkpoint-sqlite sqlite-vec numpy
    .venv/bin/python bench/sqlite_bench.py --langgraph-python /tmp/lg/bin/python

Each side runs in its own process; progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DIMS = 384
_NUMBERED = re.compile(r"(memory|query) (\d+)")
USERS = 100
BATCH = 1_000


class Data:
    """Deterministic items, their vectors and query vectors (the same in every interpreter)."""

    def __init__(self, items: int, queries: int) -> None:
        rng = np.random.default_rng(1234)
        self.items = items
        self.vectors = rng.standard_normal((items, DIMS), dtype=np.float32)
        self.queries = rng.standard_normal((queries, DIMS), dtype=np.float32)

    def namespace(self, i: int) -> tuple[str, ...]:
        return ("users", f"u{i % USERS}", "memories")

    def value(self, i: int) -> dict[str, Any]:
        return {"text": f"memory {i}", "n": i, "kind": "fact" if i % 3 else "event"}

    def embed(self, texts: Sequence[str]) -> Any:
        """Look vectors up: ``"memory 17"`` is item 17, ``"query 3"`` is query 3."""
        # A store may hand over the whole value as JSON: find the "memory N" in it.
        found = [_NUMBERED.search(text) for text in texts]
        rows = [int(m.group(2)) if m else 0 for m in found]
        source = (
            self.vectors if found and found[0] and found[0].group(1) == "memory" else self.queries
        )
        return source[rows]

    def embeddings(self) -> Any:
        """The lookup as a LangChain ``Embeddings`` (so no adapter converts the arrays)."""
        from langchain_core.embeddings import Embeddings

        data = self

        class Lookup(Embeddings):
            def embed_documents(self, texts: list[str]) -> Any:
                return data.embed(texts)

            def embed_query(self, text: str) -> Any:
                return data.embed([text])[0]

        return Lookup()


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def median_ms(func: Callable[[int], Any], runs: int, cpu: dict[str, float] | None = None) -> float:
    """Median wall ms of ``func(j)`` over ``runs``; with ``cpu``, its median CPU ms goes in
    ``cpu["ms"]`` (the process's CPU time: what the other engineers' load does not add)."""
    times, cpu_times = [], []
    for j in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        func(j)
        times.append((time.perf_counter() - start) * 1000)
        cpu_times.append((time.process_time() - start_cpu) * 1000)
    if cpu is not None:
        cpu["ms"] = statistics.median(cpu_times)
    return statistics.median(times)


def median_ms_with_cpu(
    results: dict[str, Any], name: str, func: Callable[[int], Any], runs: int
) -> None:
    """``results[name]`` (wall) and ``results[name + "_cpu"]`` (CPU), medians in ms."""
    cpu: dict[str, float] = {}
    results[name] = median_ms(func, runs, cpu)
    results[name + "_cpu"] = cpu["ms"]


def interleaved_ms(
    results: dict[str, Any], funcs: dict[str, Callable[[int], Any]], runs: int
) -> None:
    """``results[name]`` (wall) and ``results[name + "_cpu"]`` (CPU), medians in ms, of
    ``runs`` calls of each function, interleaved: they take turns in rounds of 10 calls,
    so a slow patch of the machine weighs on all of them alike. In a round each function
    gets other arguments than the others, so none finds the data the one before it read."""
    times: dict[str, list[float]] = {name: [] for name in funcs}
    cpu_times: dict[str, list[float]] = {name: [] for name in funcs}
    for start in range(0, runs, 10):
        for shift, (name, func) in enumerate(funcs.items()):
            for j in range(start, min(runs, start + 10)):
                j = (j + shift * 10) % runs
                began, began_cpu = time.perf_counter(), time.process_time()
                func(j)
                times[name].append((time.perf_counter() - began) * 1000)
                cpu_times[name].append((time.process_time() - began_cpu) * 1000)
    for name in funcs:
        results[name] = statistics.median(times[name])
        results[name + "_cpu"] = statistics.median(cpu_times[name])


def run_side(impl: str, items: int, workdir: Path) -> dict[str, Any]:
    """Fill a store, reopen it, and time the operations; returns the figures."""
    data = Data(items, queries=400)
    path = workdir / f"{impl}.db"
    index = {"dims": DIMS, "embed": data.embeddings(), "fields": ["text"]}
    if impl == "threadloom":
        from threadloom.store.base import PutOp
        from threadloom.store.sqlite import SqliteStore

        def open_store() -> Any:
            store = SqliteStore(path, index=index)  # type: ignore[arg-type]
            store.setup()
            return store

        def close(store: Any) -> None:
            store.close()
    else:
        from langgraph.store.base import PutOp  # type: ignore[no-redef]
        from langgraph.store.sqlite import SqliteStore as LangGraphSqliteStore

        def open_store() -> Any:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            store = LangGraphSqliteStore(conn, index=index)  # type: ignore[arg-type]
            store.setup()
            return store

        def close(store: Any) -> None:
            store.conn.close()

    results: dict[str, Any] = {"impl": impl, "items": items}
    store = open_store()
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, items, BATCH):
        store.batch(
            [
                PutOp(data.namespace(i), f"m{i}", data.value(i))
                for i in range(first, min(items, first + BATCH))
            ]
        )
        if first % (20 * BATCH) == 0:
            progress(f"{impl}: put {first + BATCH:,}/{items:,}")
    elapsed = time.perf_counter() - start
    results["put_items_per_s"] = items / elapsed
    # CPU time of this process (SQLite runs in it too): the rate without other load.
    results["put_items_per_cpu_s"] = items / (time.process_time() - cpu)
    close(store)

    start, cpu = time.perf_counter(), time.process_time()
    store = open_store()
    first_hits = store.search(("users", "u7"), query="query 0", limit=10)
    results["open_first_search_ms"] = (time.perf_counter() - start) * 1000
    results["open_first_search_cpu_ms"] = (time.process_time() - cpu) * 1000
    assert len(first_hits) == 10
    close(store)
    # The same, but the first search spans every namespace (all vectors are read).
    start, cpu = time.perf_counter(), time.process_time()
    store = open_store()
    store.search(("users",), query="query 1", limit=10)
    results["open_first_search_all_ms"] = (time.perf_counter() - start) * 1000
    results["open_first_search_all_cpu_ms"] = (time.process_time() - cpu) * 1000
    filler = getattr(store, "_filler", None)
    if filler is not None:
        # A "vector" store indexes the file's keywords off the request path after setup():
        # how long until that is done (the searches below run once it is).
        filler.wait_idle()
        results["keyword_background_ms"] = (time.perf_counter() - start) * 1000

    progress(f"{impl}: searching one namespace")
    median_ms_with_cpu(
        results,
        "search_one_ns_ms",
        lambda j: store.search(("users", f"u{j % USERS}"), query=f"query {j}", limit=10),
        200,
    )
    runs = 30 if impl == "threadloom" else 8
    progress(f"{impl}: searching all namespaces ({runs} runs)")
    median_ms_with_cpu(
        results,
        "search_all_ms",
        lambda j: store.search(("users",), query=f"query {j}", limit=10),
        runs,
    )
    results["get_ms"] = median_ms(lambda j: store.get(data.namespace(j * 37), f"m{j * 37}"), 500)
    results["filter_search_ms"] = median_ms(
        lambda j: store.search(("users", f"u{j % USERS}"), filter={"kind": "event"}, limit=10), 200
    )
    progress(f"{impl}: single puts")
    single = 2_000
    start, cpu = time.perf_counter(), time.process_time()
    for j in range(single):
        i = items + j  # new items (their vectors: rows of the data, by number)
        store.put(data.namespace(i), f"m{i}", data.value(i % items))
    results["single_put_us"] = (time.perf_counter() - start) / single * 1e6
    results["single_put_cpu_us"] = (time.process_time() - cpu) / single * 1e6
    if impl == "threadloom":
        # A "vector" store's puts write no keyword rows: the background filler indexes them
        # once puts pause, and a keyword search indexes whatever it has not reached yet.
        # Right after the burst of single puts above, that is all of them.
        start = time.perf_counter()
        store.search(("users",), query="memory 5", mode="keyword", limit=10)
        results["keyword_first_ms"] = (time.perf_counter() - start) * 1000
        # Vector search again on the data as it is now (the single puts above grew the
        # file and the in-process index): what keyword and hybrid are compared with.
        progress(f"{impl}: vector, keyword and hybrid search, interleaved")
        modes = ("vector", "keyword", "hybrid")
        # Untimed, one search per namespace in each mode first: what the first search after
        # the writes above does once (a mode's structures brought up to date) is not what
        # its searches cost, and no mode should do it for another one timed after it.
        for mode in modes:
            for u in range(USERS):
                store.search(("users", f"u{u}"), query="memory warm", mode=mode, limit=10)
        interleaved_ms(
            results,
            {
                f"{mode}_one_ns_ms": lambda j, mode=mode: store.search(
                    ("users", f"u{j % USERS}"), query=f"memory {j}", mode=mode, limit=10
                )
                for mode in modes
            },
            200,
        )
        interleaved_ms(
            results,
            {
                f"{mode}_all_ms": lambda j, mode=mode: store.search(
                    ("users",), query=f"memory {j}", mode=mode, limit=10
                )
                for mode in modes
            },
            30,
        )
        start = time.perf_counter()
        for j in range(single):
            i = items + single + j
            store.put(data.namespace(i), f"m{i}", data.value(i % items))
        results["single_put_keywords_us"] = (time.perf_counter() - start) / single * 1e6
        if filler is not None:
            filler.wait_idle()
    # Exactness check on our side: the top hit across all is the true best cosine.
    if impl == "threadloom":
        q = data.queries[3] / np.linalg.norm(data.queries[3])
        unit = data.vectors / np.linalg.norm(data.vectors, axis=1, keepdims=True)
        best = int(np.argmax(unit @ q))
        results["top1_exact"] = (
            store.search(("users",), query="query 3", limit=1)[0].key == f"m{best}"
        )
    close(store)
    if impl == "threadloom":
        # A keyword-searching store keeps the index on every put (built at setup()).
        hybrid = SqliteStore(path, index={**index, "search_mode": "hybrid"})  # type: ignore[arg-type]
        hybrid.setup()  # the same file: its rows are caught up, now they go live
        start, cpu = time.perf_counter(), time.process_time()
        for j in range(single):
            i = items + 3 * single + j
            hybrid.put(data.namespace(i), f"m{i}", data.value(i % items))
        results["single_put_hybrid_us"] = (time.perf_counter() - start) / single * 1e6
        results["single_put_hybrid_cpu_us"] = (time.process_time() - cpu) / single * 1e6
        # A chat's turn on this store: a put into the user's namespace, then a search there
        # (after one untimed search per namespace in each mode, as above).
        for mode in ("vector", "hybrid"):
            for u in range(USERS):
                hybrid.search(("users", f"u{u}"), query="memory warm", mode=mode, limit=10)
        after_put: dict[str, list[float]] = {"vector": [], "hybrid": []}
        for first in range(0, 200, 10):
            for shift, mode in enumerate(after_put):
                for j in range(first, first + 10):
                    j = (j + shift * 10) % 200
                    namespace = data.namespace(j)
                    hybrid.put(namespace, f"turn-{mode}-{j}", data.value((j * 7919) % items))
                    began = time.perf_counter()
                    hybrid.search(namespace[:2], query=f"memory {j}", mode=mode, limit=10)
                    after_put[mode].append((time.perf_counter() - began) * 1000)
        for mode, times in after_put.items():
            results[f"{mode}_after_put_ms"] = statistics.median(times)
        hybrid.close()
    results["file_mb"] = path.stat().st_size / 1e6
    return results


def langgraph_can_run(python: str) -> str | None:
    """Why ``python`` cannot run LangGraph's store, or None if it can."""
    probe = (
        "import sqlite3, sqlite_vec, langgraph.store.sqlite\n"
        "c = sqlite3.connect(':memory:')\n"
        "assert hasattr(c, 'enable_load_extension'), 'sqlite3 without extension loading'\n"
        "c.enable_load_extension(True); sqlite_vec.load(c)\n"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or ["failed"])[-1]


def table(rows: list[dict[str, Any]]) -> str:
    ours = next(r for r in rows if r["impl"] == "threadloom")
    theirs = next((r for r in rows if r["impl"] == "langgraph"), None)
    metrics = [
        ("batched put (items/s, higher is better)", "put_items_per_s", "{:,.0f}", ">= 20,000"),
        ("  same, per CPU-second of the process", "put_items_per_cpu_s", "{:,.0f}", ""),
        (
            "open 100k file + first search in one namespace (ms)",
            "open_first_search_ms",
            "{:.0f}",
            "<= 1,000",
        ),
        ("  same, CPU time of the process (ms)", "open_first_search_cpu_ms", "{:.0f}", ""),
        ("open 100k file + first search across all (ms)", "open_first_search_all_ms", "{:.0f}", ""),
        ("  same, CPU time of the process (ms)", "open_first_search_all_cpu_ms", "{:.0f}", ""),
        ("search, one user's namespace (ms, median)", "search_one_ns_ms", "{:.2f}", "<= 1"),
        ("search, all namespaces (ms, median)", "search_all_ms", "{:.1f}", "<= 15"),
        ("get (ms, median)", "get_ms", "{:.3f}", ""),
        ("filter-only search, one namespace (ms)", "filter_search_ms", "{:.2f}", ""),
        ("file size (MB)", "file_mb", "{:.0f}", ""),
        ("single put, into the filled file (µs, wall)", "single_put_us", "{:.0f}", ""),
        ("  same, CPU time of the process (µs)", "single_put_cpu_us", "{:.0f}", ""),
        (
            "  same, after keyword searches (µs, wall; still no keyword rows)",
            "single_put_keywords_us",
            "{:.0f}",
            "",
        ),
        (
            "single put, search_mode hybrid: keyword rows kept (µs, wall)",
            "single_put_hybrid_us",
            "{:.0f}",
            "",
        ),
        ("  same, CPU time of the process (µs)", "single_put_hybrid_cpu_us", "{:.0f}", ""),
        (
            "keyword index ready after setup, in the background (ms)",
            "keyword_background_ms",
            "{:.0f}",
            "",
        ),
        (
            "first keyword search right after 2,000 puts: indexes them (ms)",
            "keyword_first_ms",
            "{:.1f}",
            "",
        ),
        ("keyword search, one namespace (ms, median)", "keyword_one_ns_ms", "{:.2f}", ""),
        ("keyword search, all namespaces (ms, median)", "keyword_all_ms", "{:.2f}", ""),
        ("hybrid search, one namespace (ms, median)", "hybrid_one_ns_ms", "{:.2f}", ""),
        ("hybrid search, all namespaces (ms, median)", "hybrid_all_ms", "{:.2f}", ""),
        ("vector search then, one namespace (ms, median)", "vector_one_ns_ms", "{:.2f}", ""),
        ("vector search then, all namespaces (ms, median)", "vector_all_ms", "{:.2f}", ""),
        (
            "search_mode hybrid: vector search right after a put there, one namespace (ms)",
            "vector_after_put_ms",
            "{:.2f}",
            "",
        ),
        (
            "search_mode hybrid: hybrid search right after a put there, one namespace (ms)",
            "hybrid_after_put_ms",
            "{:.2f}",
            "",
        ),
    ]
    lines = [
        f"| {ours['items']:,} items, {DIMS} dims, {USERS} users | threadloom | LangGraph | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for label, key, fmt, target in metrics:
        mine = fmt.format(ours[key])
        if theirs is None or key not in theirs:
            lines.append(f"| {label} | {mine} | n/a | | {target} |")
            continue
        other = fmt.format(theirs[key])
        if key.startswith("put_items"):
            ratio = ours[key] / theirs[key]
        else:
            ratio = theirs[key] / ours[key] if ours[key] else float("inf")
        better = f"{ratio:,.2g}x" if key != "file_mb" else ""
        lines.append(f"| {label} | {mine} | {other} | {better} | {target} |")
    # Keyword and hybrid against vector search on the same data (LangGraph has neither mode).
    for mode in ("keyword", "hybrid"):
        for scope in ("one_ns", "all"):
            vector = f"vector_{scope}_ms"  # measured next to them, on the same data
            wall = ours[f"{mode}_{scope}_ms"] / ours[vector]
            cpu = ours[f"{mode}_{scope}_ms_cpu"] / ours[vector + "_cpu"]
            lines.append(
                f"| {mode} / vector search time, {scope.replace('_', ' ')} (wall; CPU) | "
                f"{wall:.2f}x; {cpu:.2f}x | | | <= 2x |"
            )
    ratio = ours["hybrid_after_put_ms"] / ours["vector_after_put_ms"]
    lines.append(
        f"| hybrid / vector search time, search_mode hybrid, right after a put (wall) | {ratio:.2f}x | | | |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument(
        "--langgraph-python",
        default=sys.executable,
        help="interpreter for LangGraph's side (its sqlite3 must load extensions)",
    )
    parser.add_argument("--impl", choices=["threadloom", "langgraph"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.impl:  # one side, in this process; figures as JSON on stdout
        print(json.dumps(run_side(args.impl, args.items, Path(args.workdir))))
        return

    with tempfile.TemporaryDirectory(prefix="tl-sqlite-bench-") as workdir:
        rows = []
        sides = [("threadloom", sys.executable), ("langgraph", args.langgraph_python)]
        for impl, python in sides:
            if impl == "langgraph":
                reason = langgraph_can_run(python)
                if reason:
                    print(
                        f"LangGraph's SqliteStore cannot run under {python}: {reason}",
                        file=sys.stderr,
                    )
                    continue
            print(f"{impl} ({python})", file=sys.stderr)
            env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
            done = subprocess.run(
                [
                    python,
                    __file__,
                    "--impl",
                    impl,
                    "--items",
                    str(args.items),
                    "--workdir",
                    workdir,
                ],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                check=True,
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(rows))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"\n{os.cpu_count()} CPUs; load average at the end (1, 5, 15 min): {load}")
        for row in rows:
            print(json.dumps(row), file=sys.stderr)


if __name__ == "__main__":
    main()
