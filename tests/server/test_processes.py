"""Server processes: several on one PostgreSQL database, and runs cut short by a restart."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from _live import server_processes, write_config
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import ConflictError

from threadloom.server._runs import STOPPED


def _wait_status(client: Any, tid: str, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 20
    while client.runs.get(tid, run_id)["status"] != status:
        assert time.monotonic() < deadline, f"run never reached {status}"
        time.sleep(0.02)


@pytest.mark.postgres
def test_two_server_processes_share_one_postgres_database(pg_dsn: str, tmp_path: Path) -> None:
    """Two processes started at once on one database serve one consistent world."""
    config = write_config(tmp_path)
    with (
        server_processes(config, 2, postgres=pg_dsn) as (a, b),
        get_sync_client(url=a.url) as ca,
        get_sync_client(url=b.url) as cb,
    ):
        # Both made the same assistant per graph: one record, not two.
        assert len(ca.assistants.search(graph_id="counter")) == 1
        assert ca.assistants.get("counter") == cb.assistants.get("counter")

        # A thread made on A runs on B; its state reads the same on both.
        tid = ca.threads.create(metadata={"made_on": "a"})["thread_id"]
        assert cb.runs.wait(tid, "counter", input={"n": 1}) == {"n": 2}
        assert ca.threads.get_state(tid)["values"] == {"n": 2}
        assert ca.threads.get(tid)["status"] == "idle"

        # A background run on A is seen, joined and refused against from B.
        slow = ca.runs.create(tid, "slow", input={"n": 200})
        _wait_status(cb, tid, slow["run_id"], "running")
        assert cb.threads.get(tid)["status"] == "busy"
        with pytest.raises(ConflictError):
            cb.runs.create(tid, "counter", input={"n": 1}, multitask_strategy="reject")
        # enqueue on B waits for A's run instead of writing over it.
        queued = cb.runs.create(tid, "counter", input={"n": 500}, multitask_strategy="enqueue")
        assert cb.runs.join(tid, queued["run_id"]) == {"n": 501}
        assert cb.runs.get(tid, slow["run_id"])["status"] == "success"
        assert ca.runs.get(tid, queued["run_id"])["status"] == "success"
        # Each run also saves an input checkpoint (the values before it): a value
        # seen twice in a row is one state, and a thread's first one has none.
        steps: list[int] = []
        for h in ca.threads.get_history(tid, limit=100):
            n = h["values"].get("n")
            if n is not None and (not steps or steps[-1] != n):
                steps.append(n)
        assert steps[:5] == [501, 500, 203, 202, 201]  # one after the other, nothing lost

        # A run executing on A is cancelled through B (A polls for such requests).
        long = ca.runs.create(tid, "slow", input={"n": 1000})
        _wait_status(cb, tid, long["run_id"], "running")
        began = time.monotonic()
        cb.runs.cancel(tid, long["run_id"], wait=True)
        assert time.monotonic() - began < 2.5  # well before its three 1 s steps end
        assert ca.runs.get(tid, long["run_id"])["status"] == "interrupted"
        assert ca.threads.get(tid)["status"] == "idle"

        # Concurrent writes through both processes: every acknowledged one is there.
        def write(i: int) -> tuple[str, str]:
            client = (ca, cb)[i % 2]
            client.store.put_item(["shared", f"w{i % 3}"], f"k{i}", {"i": i})
            thread = client.threads.create(metadata={"batch": "w", "i": i})
            client.runs.wait(thread["thread_id"], "counter", input={"n": i})
            return f"k{i}", thread["thread_id"]

        with ThreadPoolExecutor(8) as pool:
            acknowledged = list(pool.map(write, range(40)))
        for client in (ca, cb):
            items = client.store.search_items(["shared"], limit=100)["items"]
            assert sorted(i["key"] for i in items) == sorted(k for k, _ in acknowledged)
            assert client.threads.count(metadata={"batch": "w"}) == 40
        for i, (_, thread_id) in enumerate(acknowledged):
            assert (ca, cb)[i % 2 - 1].threads.get_state(thread_id)["values"] == {"n": i + 1}


def _start_slow_run(url: str) -> tuple[str, str]:
    with get_sync_client(url=url) as client:
        tid = client.threads.create()["thread_id"]
        run = client.runs.create(tid, "slow", input={"n": 3000})
        _wait_status(client, tid, run["run_id"], "running")
        deadline = time.monotonic() + 10  # the turn has begun: its input is saved
        while "n" not in client.threads.get_state(tid)["values"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        return tid, run["run_id"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["crash", "stop"])
def test_a_run_cut_short_by_a_restart_is_marked(tmp_path: Path, sig: int) -> None:
    """A background run the server dies (or stops) under is marked interrupted, not lost.

    After the restart the run says why, its thread is no longer busy, and runs again.
    """
    config, db = write_config(tmp_path), tmp_path / "restart.db"
    with server_processes(config, 1, db=db) as (first,):
        tid, run_id = _start_slow_run(first.url)
        first.stop(sig)
    with server_processes(config, 1, db=db) as (second,), get_sync_client(url=second.url) as c:
        run = c.runs.get(tid, run_id)
        assert run["status"] == "interrupted"
        assert run["error"] == STOPPED
        assert c.threads.get(tid)["status"] == "idle"
        # The thread stands where the last saved step left it, and (its open turn marked
        # as stopped) takes new runs at once.
        assert c.threads.get_state(tid)["values"]["n"] in (3000, 3001, 3002)
        assert c.runs.wait(tid, "counter", input={"n": 1}) == {"n": 2}


@pytest.mark.postgres
def test_restart_leaves_another_live_process_runs_alone(pg_dsn: str, tmp_path: Path) -> None:
    """A process starting on a shared database never marks a live process's runs."""
    config = write_config(tmp_path)
    with server_processes(config, 1, postgres=pg_dsn) as (a,):
        tid, run_id = _start_slow_run(a.url)
        with (
            server_processes(config, 1, postgres=pg_dsn) as (b,),
            get_sync_client(url=b.url) as cb,
        ):
            assert cb.runs.get(tid, run_id)["status"] == "running"
            a.stop(signal.SIGKILL)
        # B does not sweep while running; a process started after A died does.
        with (
            server_processes(config, 1, postgres=pg_dsn) as (c,),
            get_sync_client(url=c.url) as cc,
        ):
            assert cc.runs.get(tid, run_id)["status"] == "interrupted"
            assert cc.threads.get(tid)["status"] == "idle"
