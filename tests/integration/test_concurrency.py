"""Eight processes with threads share one SQLite file: nothing lost, nothing locked, all visible."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.sqlite import SqliteStore

WORKER = str(Path(__file__).with_name("_worker.py"))
PROCESSES = 8
THREADS = 3
ROUNDS = 20


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_processes_and_threads_put_search_and_checkpoint_on_one_file(tmp_path: Path) -> None:
    """Every put and checkpoint lands, no caller sees "database is locked", and searches see other processes' commits."""
    path = tmp_path / "shared.db"
    workers = [
        subprocess.Popen(
            [sys.executable, WORKER, "busy", str(path), f"p{i}", str(THREADS), str(ROUNDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )
        for i in range(PROCESSES)
    ]
    seen_from_others = 0
    for worker in workers:
        out, err = worker.communicate(timeout=150)
        assert worker.returncode == 0, err
        assert "locked" not in out + err and "busy" not in err.lower(), out + err
        last = out.strip().splitlines()[-1]
        assert last.startswith("done"), out
        seen_from_others += int(last.split()[1])
    # The searches that checked cross-process visibility found other processes' items.
    assert seen_from_others > 0

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with SqliteStore(path) as store:
        keys = {item.key for item in store.search(("shared",), limit=10_000)}
        expected = {
            f"p{p}-t{t}-n{n}"
            for p in range(PROCESSES)
            for t in range(THREADS)
            for n in range(ROUNDS)
        }
        assert keys == expected
    with SqliteSaver.from_conn_string(str(path)) as saver:
        for p in range(PROCESSES):
            for t in range(THREADS):
                config = {"configurable": {"thread_id": f"p{p}-t{t}", "checkpoint_ns": ""}}
                history = list(saver.list(config))  # type: ignore[arg-type]
                assert len(history) == ROUNDS
                assert history[0].checkpoint["channel_values"] == {"count": ROUNDS - 1}
