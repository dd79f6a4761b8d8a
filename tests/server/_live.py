"""Serving an app on loopback for a test: shared by tests/server and tests/postgres."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

HERE = Path(__file__).parent
GRAPH_NAMES = ("counter", "two_steps", "asker", "slow", "chat", "parent", "failing")


def graph_specs() -> dict[str, str]:
    """The test graphs, as a langgraph.json names them (paths relative to this folder)."""
    return {name: f"_graphs.py:{name}" for name in GRAPH_NAMES}


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` on a random loopback port in a thread; yield its URL; shut it down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
