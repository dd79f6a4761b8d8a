"""``threadloom serve`` vs LangGraph's development server, side by side on the same graph.

Both servers run in their own process on loopback, each with its defaults for a
single process, access logs off and log level WARNING: threadloom on a SQLite file
(``--db``), LangGraph's ``langgraph-api`` with its in-memory runtime (as ``langgraph
dev`` starts it, with 10 run workers). The graph is one node adding 1 to ``n`` (an
``operator.add`` channel, so the input adds too), written once with each library.

Operations, each at 1, 10 and 50 concurrent clients for a fixed time:

* ``store search``: ``POST /store/items/search`` in one user's namespace (20 items each);
* ``state read``: ``GET /threads/{id}/state`` of a thread that has run;
* ``run wait``: ``POST /threads/{id}/runs/wait``, each client on its own thread;
* ``run stream``: ``POST /threads/{id}/runs/stream`` (``values``), read to the end.

Both servers run for the whole bench, and each cell measures one right after the
other, so the machine's changing load weighs on both sides alike. Clients are a
small asyncio HTTP/1.1 client with keep-alive connections (so the
client's own cost stays small next to the servers'). After the runs, every
acknowledged run is checked: each thread's ``n`` must be 2 x its acknowledged runs.

Run: ``.venv/bin/python bench/server_bench.py`` (``--quick``: 2 s per cell;
``--only threadloom``; ``--seconds 5``; ``--ops "store search" "state read"``;
``--rounds 3`` measures every cell three times and prints the medians, with the
lowest and highest ratio of the rounds). Needs ``langgraph-api`` for the LangGraph
side (``pip install -r bench/requirements.txt``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRAPH = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from {package}.graph import START, StateGraph


class State(TypedDict):
    n: Annotated[int, operator.add]


def inc(state: State) -> dict:
    return {{"n": 1}}


builder = StateGraph(State)
builder.add_node("inc", inc)
builder.add_edge(START, "inc")
graph = builder.compile()
"""

THREADLOOM = """
import sys
from threadloom.server import serve
serve(sys.argv[1], port=int(sys.argv[2]), database=sys.argv[3], log_level="warning",
      access_log=False)
"""

LANGGRAPH = """
import sys
from langgraph_api.cli import run_server
run_server(port=int(sys.argv[2]), graphs={"bench": sys.argv[1]}, open_browser=False,
           n_jobs_per_worker=10, server_level="WARNING")
"""

try:  # the client's own cost counts against both servers: keep it small
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    loads = json.loads

try:
    import uvloop

    run_async: Callable[..., Any] = uvloop.run
except ImportError:  # pragma: no cover
    run_async = asyncio.run

LEVELS = (1, 10, 50)
USERS = 50
ITEMS_PER_USER = 20
OPS = ("store search", "state read", "run wait", "run stream")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- a minimal keep-alive HTTP/1.1 client ----------------------------------------------------


class Connection:
    """One keep-alive connection; ``request`` returns (status, body) and reads chunked bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        parts = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return status, b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


# --- servers ---------------------------------------------------------------------------------


class Server:
    """One server process on a free port with the bench graph; ``stop()`` ends it."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.port = free_port()
        package = "threadloom" if name == "threadloom" else "langgraph"
        graph_file = folder / f"{name}_graph.py"
        graph_file.write_text(GRAPH.format(package=package), encoding="utf-8")
        env = {**os.environ, "LOG_LEVEL": "WARNING", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
        if name == "threadloom":
            config = folder / "langgraph.json"
            config.write_text(json.dumps({"graphs": {"bench": f"{graph_file}:graph"}}))
            args = [THREADLOOM, str(config), str(self.port), str(folder / "bench.db")]
        else:
            args = [LANGGRAPH, f"{graph_file}:graph", str(self.port)]
        self.process = subprocess.Popen(
            [sys.executable, "-c", *args],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ok", timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} server did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the load --------------------------------------------------------------------------------


async def prepare(port: int, clients: int) -> list[str]:
    """Store items for every user, and one thread per client (run once, so it has state)."""
    conn = await Connection(port).open()
    try:
        for u in range(USERS):
            for i in range(ITEMS_PER_USER):
                item = {"namespace": ["bench", f"u{u}"], "key": f"k{i}", "value": {"i": i}}
                status, _ = await conn.request("PUT", "/store/items", item)
                assert status in (200, 204), status
        threads = []
        for _ in range(clients):
            status, body = await conn.request("POST", "/threads", {})
            assert status == 200, body
            tid = loads(body)["thread_id"]
            status, body = await conn.request(
                "POST", f"/threads/{tid}/runs/wait", {"assistant_id": "bench", "input": {"n": 1}}
            )
            assert status == 200 and loads(body) == {"n": 2}, body
            threads.append(tid)
        return threads
    finally:
        await conn.close()


def operation(op: str, threads: list[str]) -> Callable[[Connection, int, int], Any]:
    """``call(conn, client, i)``: the request ``op`` makes; returns True if it wrote a turn."""
    run = {"assistant_id": "bench", "input": {"n": 1}}

    async def call(conn: Connection, client: int, i: int) -> bool:
        tid = threads[client]
        if op == "store search":
            body = {"namespace_prefix": ["bench", f"u{(client + i) % USERS}"], "limit": 10}
            status, data = await conn.request("POST", "/store/items/search", body)
            ok = status == 200 and len(loads(data)["items"]) == 10
        elif op == "state read":
            status, data = await conn.request("GET", f"/threads/{tid}/state")
            ok = status == 200 and "n" in loads(data)["values"]
        elif op == "run wait":
            status, data = await conn.request("POST", f"/threads/{tid}/runs/wait", run)
            ok = status == 200 and "n" in loads(data)
        else:
            status, data = await conn.request(
                "POST", f"/threads/{tid}/runs/stream", {**run, "stream_mode": "values"}
            )
            ok = status == 200 and data.rstrip().endswith(b"}") and b"event: values" in data
        if not ok:
            raise RuntimeError(f"{op}: unexpected answer {status} {data[:200]!r}")
        return op.startswith("run")

    return call


async def measure(
    port: int, op: str, clients: int, seconds: float, threads: list[str], acked: list[int]
) -> dict[str, float]:
    """Requests/s and latency percentiles of ``op`` with ``clients`` concurrent clients."""
    call = operation(op, threads)
    latencies: list[float] = []
    conns = [await Connection(port).open() for _ in range(clients)]
    stop = time.perf_counter() + seconds

    async def client(c: int) -> None:
        i = 0
        while time.perf_counter() < stop:
            start = time.perf_counter()
            wrote = await call(conns[c], c, i)
            latencies.append(time.perf_counter() - start)
            if wrote:
                acked[c] += 1
            i += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    elapsed = time.perf_counter() - began
    for conn in conns:
        await conn.close()
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


async def verify(port: int, threads: list[str], acked: list[int]) -> int:
    """Threads whose ``n`` is not 2 x (acknowledged runs + the preparing run): lost writes."""
    conn = await Connection(port).open()
    lost = 0
    try:
        for tid, runs in zip(threads, acked, strict=True):
            status, body = await conn.request("GET", f"/threads/{tid}/state")
            n = loads(body)["values"]["n"]
            if status != 200 or n != 2 * (runs + 1):
                lost += 1
                log(f"thread {tid}: n={n}, expected {2 * (runs + 1)}")
    finally:
        await conn.close()
    return lost


def bench(
    names: list[str], seconds: float, ops: list[str], rounds: int
) -> dict[str, dict[str, Any]]:
    """Every cell ``rounds`` times, each server's measurement right after the other's.

    Both servers run throughout (an idle one costs nothing), so a change in the
    machine's load during the bench weighs on both sides of a cell alike. A cell's
    result is the list of its rounds.
    """
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, Server] = {}
        try:
            for name in names:
                (Path(tmp) / name).mkdir()
                servers[name] = Server(name, Path(tmp) / name)
            threads = {n: run_async(prepare(s.port, max(LEVELS))) for n, s in servers.items()}
            acked = {name: [0] * max(LEVELS) for name in names}
            results: dict[str, dict[str, Any]] = {name: {} for name in names}
            for round_ in range(1, rounds + 1):
                for op in ops:
                    for clients in LEVELS:
                        for name, server in servers.items():
                            cell = run_async(
                                measure(
                                    server.port, op, clients, seconds, threads[name], acked[name]
                                )
                            )
                            results[name].setdefault(f"{op}@{clients}", []).append(cell)
                            log(
                                f"round {round_}/{rounds} {name:10} {op:12} x{clients:<3} "
                                f"{cell['rps']:8.0f} req/s  p50 {cell['p50']:7.1f} ms  "
                                f"p99 {cell['p99']:7.1f} ms"
                            )
            for name, server in servers.items():
                results[name]["acknowledged runs"] = sum(acked[name])
                results[name]["lost"] = run_async(verify(server.port, threads[name], acked[name]))
            return results
        finally:
            for server in servers.values():
                server.stop()


def median_cell(cells: list[dict[str, float]]) -> dict[str, float]:
    """The median of each figure over a cell's rounds."""
    return {k: statistics.median(c[k] for c in cells) for k in ("rps", "p50", "p99")}


def table(results: dict[str, dict[str, Any]], names: list[str], ops: list[str]) -> str:
    """The markdown table: medians over the rounds, and the ratio's median (min - max)."""
    rounds = len(next(iter(results[names[0]].values())))
    lines = [
        f"req/s, p50 / p99 ms{'' if rounds == 1 else f'; medians of {rounds} rounds'}",
        "",
    ]
    header = "| operation | clients | " + " | ".join(f"{n} req/s | p50 / p99" for n in names)
    if len(names) == 2:
        header += " | ratio" if rounds == 1 else " | ratio (min - max)"
    header += " |"
    lines += [header, "|" + "---|" * (header.count("|") - 1)]
    for op in ops:
        for clients in LEVELS:
            key = f"{op}@{clients}"
            cells = {n: median_cell(results[n][key]) for n in names}
            row = f"| {op} | {clients} | " + " | ".join(
                f"{cells[n]['rps']:.0f} | {cells[n]['p50']:.1f} / {cells[n]['p99']:.1f}"
                for n in names
            )
            if len(names) == 2:
                ratios = [
                    a["rps"] / b["rps"]
                    for a, b in zip(results[names[0]][key], results[names[1]][key], strict=True)
                ]
                row += f" | {statistics.median(ratios):.2f}x"
                if rounds > 1:
                    row += f" ({min(ratios):.2f} - {max(ratios):.2f})"
            lines.append(row + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per cell")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per cell")
    parser.add_argument("--rounds", type=int, default=1, help="times each cell is measured")
    parser.add_argument("--only", choices=("threadloom", "langgraph"))
    parser.add_argument(
        "--ops", nargs="+", choices=OPS, default=list(OPS), metavar="OP", help="operations to run"
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    seconds = 2.0 if args.quick else args.seconds
    names = [args.only] if args.only else ["threadloom", "langgraph"]
    ops = [op for op in OPS if op in args.ops]
    results = bench(names, seconds, ops, args.rounds)
    print(f"\n{seconds:g} s per cell; {table(results, names, ops)}")
    for name in names:
        r = results[name]
        print(
            f"\n{name}: {r['acknowledged runs']} acknowledged runs, {r['lost']} threads lost writes"
        )


if __name__ == "__main__":
    main()
