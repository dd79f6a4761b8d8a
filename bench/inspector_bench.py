"""Inspector page load times on large data: a thread of 10,000 messages, a namespace of 100,000 memories.

Builds one SQLite file (a chat thread grown turn by turn through a real graph, and
a namespace filled with memories embedded by a small hashing embedder), serves the
inspector with uvicorn on loopback, and times each page over HTTP: the median of
``--repeat`` loads (after one warm-up load), plus the first (cold) load. With
``--browser``, each page is also loaded in headless Chromium (Debian's chromium and
chromium-driver), timed to its load event (median of ``--repeat``). There is no
LangGraph counterpart to compare with (LangGraph Studio is closed).

Run from the repository root::

    .venv/bin/python bench/inspector_bench.py            # 10k messages, 100k memories
    .venv/bin/python bench/inspector_bench.py --quick    # 1k messages, 10k memories
    .venv/bin/python bench/inspector_bench.py --browser  # also in headless Chromium
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "server"))

from _live import running  # the loopback uvicorn runner the server tests use

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.inspector import Backends, create_inspector
from threadloom.store.base import PutOp
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed

WORDS = [
    "tea",
    "coffee",
    "name",
    "city",
    "dog",
    "cat",
    "music",
    "book",
    "sport",
    "travel",
    "food",
    "work",
]


def _progress(label: str, done: int, total: int, started: float) -> None:
    print(
        f"\r  {label}: {done:,}/{total:,} ({time.perf_counter() - started:.0f}s)",
        end="",
        flush=True,
    )
    if done == total:
        print()


def build(path: Path, messages: int, memories: int) -> None:
    """The thread (``messages`` messages, two per turn) and the namespace of ``memories`` items."""
    index = {"dims": 64, "embed": HashingEmbed(64), "fields": ["text"]}
    with (
        SqliteStore.from_conn_string(str(path), index=index) as store,
        SqliteSaver.from_conn_string(str(path)) as saver,
    ):
        store.setup()
        saver.setup()

        def reply(state: MessagesState) -> dict[str, Any]:
            return {"messages": [AIMessage(content=f"answer {len(state['messages'])}")]}

        builder = StateGraph(MessagesState)
        builder.add_node("reply", reply)
        builder.add_edge(START, "reply")
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "long-thread"}}
        started = time.perf_counter()
        turns = messages // 2
        for turn in range(turns):
            graph.invoke({"messages": [{"role": "user", "content": f"question {turn}"}]}, config)
            if (turn + 1) % 250 == 0 or turn + 1 == turns:
                _progress("thread turns", turn + 1, turns, started)
        started = time.perf_counter()
        batch = 2000
        for start in range(0, memories, batch):
            ops = [
                PutOp(
                    ("memories", "big"),
                    f"m{i:06d}",
                    {
                        "text": f"memory {i} about {WORDS[i % len(WORDS)]} and {WORDS[i * 7 % len(WORDS)]}",
                        "n": i,
                    },
                )
                for i in range(start, min(memories, start + batch))
            ]
            store.batch(ops)
            _progress("memories", min(memories, start + batch), memories, started)
        store.put(("memories", "small"), "one", {"text": "a small namespace"})


def _browser_times(url: str, pages: list[tuple[str, str]], repeat: int) -> None:
    from threadloom.testing.browser import find_chromium, headless_chromium

    found = find_chromium()
    if found is None:
        raise SystemExit("--browser needs Debian's chromium and chromium-driver")
    print(f"in headless Chromium (navigation start to load event, median of {repeat}):")
    with headless_chromium(*found) as browser:
        for label, page in pages:
            times = []
            for _ in range(repeat + 1):
                browser.get(url + page)
                times.append(
                    browser.execute_script(
                        "const n = performance.getEntriesByType('navigation')[0];"
                        "return n.loadEventEnd - n.startTime;"
                    )
                )
            print(f"  {label:42s} {statistics.median(times[1:]):7.1f} ms", flush=True)


def measure(path: Path, repeat: int, browser: bool) -> list[tuple[str, float, float]]:
    index = {"dims": 64, "embed": HashingEmbed(64), "fields": ["text"]}
    results = []
    with (
        SqliteStore.from_conn_string(str(path), index=index) as store,
        SqliteSaver.from_conn_string(str(path)) as saver,
    ):
        head = saver.get_tuple({"configurable": {"thread_id": "long-thread"}})
        assert head is not None
        cid = head.config["configurable"]["checkpoint_id"]
        older = list(saver.list({"configurable": {"thread_id": "long-thread"}}, limit=21))[-1]
        before = older.config["configurable"]["checkpoint_id"]
        pages = [
            ("threads list", "/threads"),
            ("thread timeline (20 newest checkpoints)", "/threads/long-thread"),
            ("thread timeline, next page", f"/threads/long-thread?before={before}"),
            ("checkpoint state (last 50 messages)", f"/threads/long-thread/checkpoints/{cid}"),
            (
                "checkpoint state (first 50 messages)",
                f"/threads/long-thread/checkpoints/{cid}?mpage=0",
            ),
            ("namespace tree with counts", "/memories?ns=memories"),
            ("items newest first (page 1)", "/memories?ns=memories.big"),
            ("items oldest first (page 1)", "/memories?ns=memories.big&order=oldest"),
            ("items page 1000", "/memories?ns=memories.big&ipage=1000"),
            ("search vector", "/memories/search?ns=memories.big&query=tea+music&mode=vector"),
            ("search keyword", "/memories/search?ns=memories.big&query=tea+music&mode=keyword"),
            ("search hybrid", "/memories/search?ns=memories.big&query=tea+music&mode=hybrid"),
            ("search with filter", '/memories/search?ns=memories.big&filter={"n":{"$gte":99990}}'),
            ("item detail", "/memories/item?ns=memories.big&key=m000123"),
        ]
        app = create_inspector(Backends(checkpointer=saver, store=store))
        with running(app) as url, httpx.Client(base_url=url, timeout=120) as client:
            for label, page in pages:
                times = []
                for _ in range(repeat + 1):
                    started = time.perf_counter()
                    response = client.get(page)
                    times.append(time.perf_counter() - started)
                    if response.status_code != 200:
                        raise SystemExit(
                            f"{page}: HTTP {response.status_code}: {response.text[:300]}"
                        )
                results.append((label, times[0], statistics.median(times[1:])))
                print(
                    f"  {label:42s} cold {times[0] * 1000:7.1f} ms   "
                    f"median {results[-1][2] * 1000:7.1f} ms",
                    flush=True,
                )
            if browser:
                _browser_times(url, pages, repeat)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 messages and 10,000 memories")
    parser.add_argument("--db", type=Path, help="keep (or reuse) the database here")
    parser.add_argument("--browser", action="store_true", help="also time pages in Chromium")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.memories = 1_000, 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "inspect.db"
        if not path.exists():
            print(f"building {args.messages:,} messages and {args.memories:,} memories in {path}")
            build(path, args.messages, args.memories)
        print(
            f"page loads over HTTP on loopback (cold = first load, median of {args.repeat} after):"
        )
        measure(path, args.repeat, args.browser)


if __name__ == "__main__":
    main()
