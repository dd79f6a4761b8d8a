"""Serving an app on loopback for a test: shared by tests/server and tests/postgres."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import threadloom
from threadloom.server._transport import http_protocol

HERE = Path(__file__).parent

Serve = Callable[..., str]
"""``serve(**config)``: starts a server for a test and returns its URL."""
SRC = str(Path(threadloom.__file__).resolve().parents[1])
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
    # The HTTP protocol `threadloom serve` runs, so that the tests go through it too.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", http=http_protocol())
    server = uvicorn.Server(config)
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


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path) -> Path:
    """A langgraph.json in ``folder`` naming the test graphs by absolute path."""
    path = folder / "langgraph.json"
    graphs = {name: f"{HERE / '_graphs.py'}:{name}" for name in GRAPH_NAMES}
    path.write_text(json.dumps({"graphs": graphs}), encoding="utf-8")
    return path


class ServerProcess:
    """``threadloom serve`` in a child process, on a free loopback port."""

    def __init__(self, config: Path, *, db: Path | None = None, postgres: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        backend = ["--postgres", postgres] if postgres else ["--db", str(db)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "threadloom.cli", "serve", "--config", str(config)]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--workers", "4", *backend],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 60) -> str:
        """Wait until the server answers ``/ok``; return its URL."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"the server exited ({self.process.returncode}): {err}")
            try:
                if httpx.get(self.url + "/ok", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Send ``sig`` (SIGTERM: a graceful stop; SIGKILL: a crash) and reap the process."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@contextmanager
def server_processes(
    config: Path, count: int, *, db: Path | None = None, postgres: str | None = None
) -> Iterator[list[ServerProcess]]:
    """``count`` server processes on one database, started at once; all stopped after."""
    processes = [ServerProcess(config, db=db, postgres=postgres) for _ in range(count)]
    try:
        for p in processes:
            p.wait_ready()
        yield processes
    finally:
        for p in processes:
            p.stop()
