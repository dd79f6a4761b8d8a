"""What a SIGKILL in the middle of a workflow leaves: ``durability="sync"`` keeps each
finished ``@task`` call's result, so the resumed workflow does not call it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.func import entrypoint, task

THREAD = {"configurable": {"thread_id": "t"}}

_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.func import entrypoint, task

    db, ready, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    @task
    def fetch(n: int) -> int:
        return n * 10

    @task
    def hang(n: int) -> int:
        ready.write_text("fetch returned")
        time.sleep(600)
        return n

    @entrypoint(checkpointer=SqliteSaver(db))
    def workflow(n: int) -> int:
        first = fetch(n).result()
        return hang(first).result()

    workflow.invoke(4, {"configurable": {"thread_id": "t"}}, durability=mode)
    """
)


@pytest.mark.parametrize(("mode", "kept"), [("sync", True), ("async", False)])
def test_sigkill_after_a_call_keeps_its_result_only_under_sync(
    tmp_path: Path, mode: str, kept: bool
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    db, ready = tmp_path / "cp.sqlite", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(ready), mode], env=env)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, "the worker exited before its second call"
            assert time.monotonic() < deadline, "the worker never reached its second call"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    calls: list[str] = []

    @task
    def fetch(n: int) -> int:
        calls.append("fetch")
        return n * 10

    @task
    def hang(n: int) -> int:
        calls.append("hang")
        return n + 1

    with SqliteSaver.from_conn_string(str(db)) as saver:

        @entrypoint(checkpointer=saver)
        def workflow(n: int) -> int:
            return hang(fetch(n).result()).result()

        assert workflow.invoke(None, THREAD) == 41
    assert calls == (["hang"] if kept else ["fetch", "hang"])


def test_a_call_saved_as_it_returned_is_not_saved_again_with_its_step() -> None:
    saver = InMemorySaver()
    saved: list[tuple[str, ...]] = []
    put_writes = saver.put_writes

    def spy(config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
        saved.append(tuple(channel for channel, _ in writes))
        put_writes(config, writes, task_id, task_path)

    saver.put_writes = spy  # type: ignore[method-assign]

    @task
    def double(n: int) -> int:
        return 2 * n

    @entrypoint(checkpointer=saver)
    def workflow(n: int) -> int:
        return double(n).result() + double(n + 1).result()

    assert workflow.invoke(1, THREAD, durability="sync") == 6
    assert saved.count(("__return__",)) == 2  # once per call, as each returned
    history = list(saver.list(THREAD))
    assert sum(1 for t in history for w in (t.pending_writes or []) if w[1] == "__return__") == 2
