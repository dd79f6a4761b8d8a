"""Background reflection: debounce, bounded concurrency, retries, and jobs that survive restarts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from threadloom.errors import InvalidStoreInputError
from threadloom.memory import create_memory_store_manager
from threadloom.memory.reflection import ReflectionExecutor
from threadloom.store.memory import InMemoryStore
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.memory import ScriptedMemoryModel, insert, turn

NS = ("memories", "u1")
CONFIG = {"configurable": {"user_id": "u1", "thread_id": "t1"}}


class Recorder:
    """A reflector that records its calls and how many ran at once."""

    def __init__(self, pause: float = 0.0, fail_times: int = 0) -> None:
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.pause = pause
        self.fail_times = fail_times
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()
        self.started = threading.Event()

    def __call__(self, payload: dict[str, Any], config: Any) -> None:
        with self.lock:
            if self.fail_times:
                self.fail_times -= 1
                raise RuntimeError("model unavailable")
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.started.set()
        time.sleep(self.pause)
        with self.lock:
            self.active -= 1
            self.calls.append(([m.text for m in payload["messages"]], config["configurable"]))


def test_rapid_turns_are_coalesced_into_one_run() -> None:
    """Three submissions for one thread inside the delay run the reflector once, on the latest."""
    recorder = Recorder()
    with ReflectionExecutor(recorder, store=InMemoryStore(), delay=1.0, poll_interval=0.05) as ex:
        for n in range(3):
            ex.submit({"messages": [("user", f"turn {n}")]}, CONFIG)
        assert [job.thread_id for job in ex.pending()] == ["t1"]
        assert ex.wait_idle(timeout=10)
    assert recorder.calls == [(["turn 2"], {"user_id": "u1", "thread_id": "t1"})]


def test_concurrency_is_bounded() -> None:
    """Six due threads with max_workers=2 never run more than two at a time, and all run."""
    recorder = Recorder(pause=0.3)
    store = InMemoryStore()
    with ReflectionExecutor(
        recorder, store=store, delay=0, max_workers=2, poll_interval=0.05
    ) as ex:
        for n in range(6):
            ex.submit({"messages": [("user", "hi")]}, thread_id=f"t{n}")
        assert ex.wait_idle(timeout=10)
    assert len(recorder.calls) == 6
    assert recorder.most_active == 2


def test_a_failing_job_is_retried_then_set_aside() -> None:
    """A job is retried after a failure; after max_attempts it moves to the failed list."""
    flaky = Recorder(fail_times=1)
    with ReflectionExecutor(flaky, store=InMemoryStore(), delay=0, poll_interval=0.01) as ex:
        ex.submit({"messages": [("user", "hi")]}, CONFIG)
        assert ex.wait_idle(timeout=5)
    assert len(flaky.calls) == 1
    broken = Recorder(fail_times=99)
    with ReflectionExecutor(
        broken, store=InMemoryStore(), delay=0, poll_interval=0.01, max_attempts=2
    ) as ex:
        ex.submit({"messages": [("user", "hi")]}, CONFIG)
        assert ex.wait_idle(timeout=5)
        (failed,) = ex.failed()
    assert failed.value["attempts"] == 2
    assert failed.value["error"] == "RuntimeError: model unavailable"


def test_pending_work_survives_a_restart_on_the_sqlite_file(tmp_path: Path) -> None:
    """Stopped before the delay passed, the job waits in the file; a new executor runs it."""
    path = tmp_path / "memories.db"
    model = ScriptedMemoryModel(script=[turn(insert("User lives in Paris"))])
    manager = create_memory_store_manager(model)
    with SqliteStore.from_conn_string(str(path)) as store:
        store.setup()
        ex = ReflectionExecutor(manager, store=store, delay=1.0, poll_interval=0.05)
        ex.submit({"messages": [("user", "I live in Paris")]}, CONFIG)
        ex.stop()  # well before the job is due
        assert [job.thread_id for job in ex.pending()] == ["t1"]
    assert model.structured_calls == 0
    with SqliteStore.from_conn_string(str(path)) as store:
        with ReflectionExecutor(manager, store=store, poll_interval=0.05) as ex:
            assert ex.wait_idle(timeout=10)
        assert [item.value["content"] for item in store.search(NS)] == ["User lives in Paris"]
    assert model.structured_calls == 1


def test_pending_work_survives_the_process_that_submitted_it(tmp_path: Path) -> None:
    """A process submits and dies at once; another process's executor does the work."""
    path = tmp_path / "memories.db"
    child = textwrap.dedent(
        f"""
        import os
        from threadloom.memory.reflection import ReflectionExecutor
        from threadloom.store.sqlite import SqliteStore
        store = SqliteStore({str(path)!r})
        store.setup()
        ex = ReflectionExecutor(lambda payload, config: None, store=store, delay=0.2)
        ex.submit({{"messages": [("user", "I live in Paris")]}},
                  {{"configurable": {{"user_id": "u1", "thread_id": "t9"}}}})
        os._exit(0)  # no clean shutdown: the job must already be on disk
        """
    )
    subprocess.run([sys.executable, "-c", child], check=True, timeout=60)
    model = ScriptedMemoryModel(script=[turn(insert("User lives in Paris"))])
    with SqliteStore.from_conn_string(str(path)) as store:
        manager = create_memory_store_manager(model, store=store)
        with ReflectionExecutor(manager, store=store, poll_interval=0.05) as ex:
            assert ex.wait_idle(timeout=10)
        assert [item.value["content"] for item in store.search(NS)] == ["User lives in Paris"]


def test_a_job_resubmitted_while_running_runs_again() -> None:
    """A submission that arrives during a run is not lost when that run finishes."""
    recorder = Recorder(pause=0.3)
    with ReflectionExecutor(recorder, store=InMemoryStore(), delay=0, poll_interval=0.02) as ex:
        ex.submit({"messages": [("user", "first")]}, CONFIG)
        assert recorder.started.wait(timeout=5)
        ex.submit({"messages": [("user", "second")]}, CONFIG)
        assert ex.wait_idle(timeout=5)
    assert [texts for texts, _ in recorder.calls] == [["first"], ["second"]]


def test_bad_arguments_are_typed_errors() -> None:
    """A submission without a thread id, or nonsense settings, are refused."""
    with pytest.raises(InvalidStoreInputError):
        ReflectionExecutor(Recorder(), store=InMemoryStore(), max_workers=0, start=False)
    ex = ReflectionExecutor(Recorder(), store=InMemoryStore(), start=False)
    with pytest.raises(InvalidStoreInputError, match="thread_id"):
        ex.submit({"messages": [("user", "hi")]}, {"configurable": {}})
