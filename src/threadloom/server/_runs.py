"""Runs: executed in a worker pool inside the server, their events fanned out to listeners.

A run's graph work happens in a pool thread (the graph API is synchronous and the
savers are thread-safe); its stream parts are encoded to JSON there and handed to
the event loop, where any number of SSE listeners (the creating request, ``join``,
``stream``) read them. Runs on one thread execute one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadloom.server._json import dumps
from threadloom.server._records import now
from threadloom.types import Command

if TYPE_CHECKING:
    from threadloom.server._server import Server

__all__ = ["POLL_SECONDS", "STREAM_MODES", "WORKER", "ActiveRun", "RunManager", "worker_alive"]

#: Stream modes a run accepts, and the graph mode each one reads.
STREAM_MODES = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
    "messages-tuple": "messages",
    "messages": "messages",
}

WORKER = f"{socket.gethostname()}:{os.getpid()}"
"""This process, as recorded on the runs it executes (to find runs a dead process left)."""

TERMINAL = ("success", "error", "interrupted", "timeout")

CANCEL_POLL_SECONDS = 0.5
"""How often a process looks for cancels other processes left for its runs."""

STOPPED = "the server stopped during this run"
"""The ``error`` of a run a server shutdown or crash interrupted."""


POLL_SECONDS = 0.05


def worker_alive(worker: str) -> bool:
    """Whether the process that ``worker`` names may still run (other hosts: assumed so)."""
    host, _, pid = worker.rpartition(":")
    if host != WORKER.rsplit(":", 1)[0] or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Cancelled(Exception):
    """Raised in the worker when a cancel was requested between two stream parts."""


@dataclass
class ActiveRun:
    """A run this process executes: its record, its events so far, and how it ended."""

    record: dict[str, Any]
    graph: Any
    input: Any
    config: dict[str, Any]
    options: dict[str, Any]
    stream_modes: list[str]
    subgraphs: bool
    temporary: bool = False
    on_disconnect: str = "continue"
    events: list[tuple[str, bytes]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_action: str = "interrupt"
    done: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    values: Any = None
    interrupts: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    started_at: float = field(default_factory=lambda: asyncio.get_running_loop().time())
    cancel_requested: bool = False
    _outbox: list[tuple[str, bytes]] = field(default_factory=list)
    _outbox_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def thread_id(self) -> str:
        return str(self.record["thread_id"])

    def send(self, event: tuple[str, bytes], loop: asyncio.AbstractEventLoop) -> None:
        """From the worker thread: hand ``event`` to the loop.

        Events made before the loop takes the first of them go over together: one
        wake-up of the loop, and one write to the listeners, for all of them.
        """
        with self._outbox_lock:
            self._outbox.append(event)
            first = len(self._outbox) == 1
        if first:
            loop.call_soon_threadsafe(self._take_outbox)

    def _take_outbox(self) -> None:
        with self._outbox_lock:
            batch, self._outbox = self._outbox, []
        self.events.extend(batch)
        self.changed.set()

    def output(self) -> Any:
        """What ``wait`` returns: the final values, with interrupts or the error."""
        if self.error is not None:
            return {"__error__": {"error": type(self.error).__name__, "message": str(self.error)}}
        values = self.values if self.values is not None else {}
        if self.interrupts and isinstance(values, dict):
            return {**values, "__interrupt__": self.interrupts}
        return values

    async def listen(self, start: int = 0) -> AsyncIterator[list[tuple[str, bytes]]]:
        """The run's events from index ``start`` until it ends, all those at hand at once."""
        index = start
        while True:
            if index < len(self.events):
                batch = self.events[index:]
                index += len(batch)
                yield batch
            if self.done.is_set() and index >= len(self.events):
                return
            self.changed.clear()
            if index < len(self.events) or self.done.is_set():
                continue
            await self.changed.wait()


class RunManager:
    """Starts, cancels and tracks the runs of this server process."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.active: dict[str, ActiveRun] = {}
        self._by_thread: dict[str, list[ActiveRun]] = {}
        # Run starts and ends waiting to be recorded, each with a future resolved once
        # written: one writer thread writes those at hand together (see _record_ends), so
        # the event loop never waits for the database while runs write their checkpoints.
        self._ends: list[_Pending] = []
        self._ends_lock = threading.Lock()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="threadloom-records")
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watcher: asyncio.Task[None] | None = None
        self.stopping = False

    def busy(self, thread_id: str) -> list[ActiveRun]:
        """Runs of ``thread_id`` that this process has not finished."""
        return list(self._by_thread.get(thread_id, ()))

    def start(self, run: ActiveRun, thread: dict[str, Any], change: dict[str, Any]) -> asyncio.Future[None]:
        """Record ``run`` and execute it in the background (after earlier runs on its thread).

        ``thread`` is its thread's record as the request read it, ``change`` what the
        run sets on it (applied to the record as it is when written). The run and
        thread records are written with the other starts and ends at hand; the
        future this returns says when, and the run executes only once they are.
        """
        self.active[run.run_id] = run
        self._by_thread.setdefault(run.thread_id, []).append(run)
        loop = asyncio.get_running_loop()
        recorded = self._queue(_Pending(loop.create_future(), run, change, thread))
        task = loop.create_task(self._drive(run, recorded))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._watcher is None or self._watcher.done():
            self._watcher = loop.create_task(self._watch_cancel_requests())
        return recorded

    async def _watch_cancel_requests(self) -> None:
        """Honour cancels sent to other server processes (left as records in the store).

        Only runs older than one poll are checked, so short runs cost nothing.
        """
        while self.active and not self.stopping:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            horizon = asyncio.get_running_loop().time() - CANCEL_POLL_SECONDS
            for run in list(self.active.values()):
                if run.started_at > horizon or run.cancel.is_set():
                    continue
                try:
                    action = self.server.records.cancel_request(run.run_id)
                except Exception:  # a database hiccup: try again at the next poll
                    continue
                if action is not None:
                    run.cancel_requested = True
                    await self.cancel(run, action)

    async def _drive(self, run: ActiveRun, recorded: asyncio.Future[None]) -> None:
        records = self.server.records
        lock = self._locks.setdefault(run.thread_id, asyncio.Lock())
        self._waiting[run.thread_id] = self._waiting.get(run.thread_id, 0) + 1
        try:
            await asyncio.shield(recorded)  # not recorded: not run (the request reports why)
            async with lock:
                claimed = run.record.get("status") == "running"  # by the request, thread free
                if not claimed:
                    await self._wait_for_other_processes(run)
                if run.cancel.is_set() and not claimed:
                    run.record.update(status="interrupted", updated_at=now())
                    if self.stopping:
                        run.record["error"] = STOPPED
                    if run.cancel_action == "rollback":
                        records.delete_run(run.run_id)
                    else:
                        records.write(("run", run.record))
                    return
                if not claimed:
                    thread = records.thread(run.thread_id)
                    run.record.update(status="running", updated_at=now())
                    writes: list[tuple[str, dict[str, Any]]] = [("run", run.record)]
                    if thread is not None:
                        thread.update(status="busy", updated_at=now())
                        writes.append(("thread", thread))
                    records.write(*writes)
                loop = asyncio.get_running_loop()
                change = await loop.run_in_executor(
                    self.server.pool, self._execute_and_finish, run, loop
                )
                if change is not None:  # still holding the thread's lock: written in order
                    await self._record_end(run, change)
        except Exception as exc:  # a failure of the server's own writes: report, never hang
            run.error = run.error or exc
        finally:
            self._waiting[run.thread_id] -= 1
            if not self._waiting[run.thread_id]:  # no run of this thread left: drop its lock
                del self._waiting[run.thread_id]
                self._locks.pop(run.thread_id, None)
            self.active.pop(run.run_id, None)
            same_thread = self._by_thread.get(run.thread_id, [])
            if run in same_thread:
                same_thread.remove(run)
            if not same_thread:
                self._by_thread.pop(run.thread_id, None)
            if run.cancel_requested:
                with contextlib.suppress(Exception):
                    self.server.records.delete_cancel_request(run.run_id)
            run.done.set()
            run.changed.set()

    async def _wait_for_other_processes(self, run: ActiveRun) -> None:
        """Wait while another server process executes a run of this thread (a shared database).

        Runs of one thread execute one at a time in this process by the lock; across
        processes the run records say who is busy. Should two processes still start
        at once, the checkpointer refuses the second write: a turn is never lost.
        """
        while not run.cancel.is_set():
            thread = self.server.records.thread(run.thread_id)
            if thread is None or thread.get("status") != "busy":
                return  # the common case, read by key: nobody runs this thread
            others = [
                r
                for r in self.server.records.search_runs(
                    thread_id=run.thread_id, status="running", limit=100
                )
                if r.get("worker") != WORKER and worker_alive(str(r.get("worker", "")))
            ]
            if not others:
                return
            await asyncio.sleep(POLL_SECONDS)

    def _execute(self, run: ActiveRun, loop: asyncio.AbstractEventLoop) -> None:
        """In a pool thread: run the graph, handing each wanted part to the loop."""
        graph_modes = {STREAM_MODES[m] for m in run.stream_modes} | {"values", "updates"}
        wanted = set(run.stream_modes)
        partial: dict[str, Any] = {}
        # Subgraphs' parts only when asked: streaming them runs every task in a thread of
        # its own (their parts interleave with the parent's), a hop per step otherwise saved.
        stream = run.graph.stream(
            run.input,
            run.config,
            stream_mode=sorted(graph_modes),
            subgraphs=run.subgraphs,
            **run.options,
        )
        parts = stream if run.subgraphs else (((), mode, data) for mode, data in stream)
        try:
            for ns, mode, data in parts:
                if run.cancel.is_set():
                    raise _Cancelled
                if not ns and mode == "values":
                    run.values = data
                if (
                    not ns
                    and mode == "updates"
                    and isinstance(data, dict)
                    and "__interrupt__" in data
                ):
                    run.interrupts = list(data["__interrupt__"])
                if ns and not run.subgraphs:
                    continue
                suffix = "|" + "|".join(ns) if ns else ""
                if mode == "messages":
                    if "messages-tuple" in wanted:
                        run.send(("messages" + suffix, dumps(list(data))), loop)
                    if "messages" in wanted:
                        for event in _partial_messages(partial, data):
                            run.send((event[0] + suffix, dumps(event[1])), loop)
                elif mode in wanted:
                    run.send((mode + suffix, dumps(data)), loop)
        except _Cancelled:
            run.record["status"] = "interrupted"
        except Exception as exc:
            run.error = exc
            error = dumps({"error": type(exc).__name__, "message": str(exc)})
            run.send(("error", error), loop)
        finally:
            stream.close()

    def _execute_and_finish(
        self, run: ActiveRun, loop: asyncio.AbstractEventLoop
    ) -> dict[str, Any] | None:
        """In a pool thread: run the graph and settle how it ended.

        Returns the thread's new state for the loop to record with the run (see
        :meth:`_record_ends`), or ``None`` if this thread recorded the end itself.
        """
        self._execute(run, loop)
        return self._finish(run)

    def _finish(self, run: ActiveRun) -> dict[str, Any] | None:
        """How ``run`` ended, on the run and on its thread (a pool thread).

        A stateless run, or one rolled back, is recorded here (with what it removes);
        any other run's end is left to the loop, which writes the ends at hand together.
        """
        records = self.server.records
        rolled_back = False
        if run.record.get("status") == "interrupted":
            if run.cancel_action == "rollback":
                self._rollback(run)
                rolled_back = True
            if self.stopping:
                run.record["error"] = STOPPED
        elif run.error is not None:
            run.record["status"] = "error"
        else:
            run.record["status"] = "success"
        run.record["updated_at"] = now()
        change = self._thread_change(run)
        if not (run.temporary or rolled_back):
            return change
        thread = records.thread(run.thread_id)
        writes: list[tuple[str, dict[str, Any]]] = []
        if rolled_back:
            records.delete_run(run.run_id)
        else:
            writes.append(("run", run.record))
        if thread is not None:
            writes.append(("thread", _changed(run, thread, change)))
        if writes:
            records.write(*writes)
        if run.temporary:  # a stateless run keeps nothing once it is done
            run.graph.checkpointer.delete_thread(run.thread_id)
            records.delete_thread(run.thread_id)
        return None

    def _thread_change(self, run: ActiveRun) -> dict[str, Any]:
        """What ``run``'s end sets on its thread record: status, interrupts, values."""
        status = "error" if run.error is not None else "idle"
        change: dict[str, Any] = {"interrupts": {}}
        if run.interrupts or (
            run.options.get("interrupt_before") or run.options.get("interrupt_after")
        ):
            snapshot = run.graph.get_state({"configurable": {"thread_id": run.thread_id}})
            if snapshot.next:
                status = "interrupted"
            change["interrupts"] = {
                t.id: list(t.interrupts) for t in snapshot.tasks if getattr(t, "interrupts", ())
            }
            if snapshot.values is not None:
                change["snapshot_values"] = snapshot.values
        change["status"] = status
        return change

    async def _record_end(self, run: ActiveRun, change: dict[str, Any]) -> None:
        """Record ``run``'s end with the others at hand."""
        loop = asyncio.get_running_loop()
        await self._queue(_Pending(loop.create_future(), run, change, None, end=True))

    def _queue(self, pending: _Pending) -> asyncio.Future[None]:
        with self._ends_lock:
            self._ends.append(pending)
            idle = len(self._ends) == 1  # else the writer has it at hand, or is told already
        if idle:
            self._writer.submit(self._record_ends, asyncio.get_running_loop())
        return pending.done

    def _record_ends(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the writer thread: write the run starts and ends at hand in one batch.

        Should the batch fail, each is written on its own, so one bad value
        fails only its own run. Those queued meanwhile are the next batch.
        """
        while True:
            with self._ends_lock:
                batch, self._ends = self._ends, []
            if not batch:
                return
            error = _attempt(self._write_batch, batch)
            if error is None or len(batch) == 1:
                outcomes = [error] * len(batch)
            else:
                outcomes = [_attempt(self._write_batch, [pending]) for pending in batch]
            loop.call_soon_threadsafe(_settle_all, batch, outcomes)

    def _write_batch(self, batch: list[_Pending]) -> None:
        """One read of the threads concerned, then one write, in the order they were queued.

        Each thread record is changed as it stands at that point (read here, or
        as an earlier change in the batch left it), as if written one by one.
        """
        records = self.server.records
        latest = records.threads(list(dict.fromkeys(p.run.thread_id for p in batch)))
        writes: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        for pending in batch:
            run = pending.run
            writes["run", run.run_id] = ("run", run.record)
            thread = latest.get(run.thread_id)
            if pending.end:
                if thread is not None:
                    _changed(run, thread, pending.change)
            else:
                if thread is None:  # as the request read it (it may create the thread)
                    thread = latest[run.thread_id] = pending.thread or {}
                metadata = {**(thread.get("metadata") or {}), **pending.change["metadata"]}
                thread.update(pending.change, metadata=metadata)
            if thread is not None:
                writes["thread", run.thread_id] = ("thread", thread)
        records.write(*writes.values())

    def _rollback(self, run: ActiveRun) -> None:
        """Put the thread's head back where it was before ``run`` started."""
        saver = run.graph.checkpointer
        config = {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ""}}
        mine = list(saver.list(config, filter={"run_id": run.run_id}))
        if not mine:
            return  # the run wrote nothing
        before = mine[-1].parent_config  # the run's first checkpoint came after this one
        if before is None:
            saver.delete_thread(run.thread_id)
            return
        run.graph.update_state(before, None)

    async def cancel(self, run: ActiveRun, action: str = "interrupt", wait: bool = False) -> None:
        """Ask ``run`` to stop after its current step; ``rollback`` also undoes its steps."""
        run.cancel_action = action
        run.cancel.set()
        if wait:
            await run.done.wait()

    async def shutdown(self) -> None:
        """Stop every run: each is recorded as interrupted by the shutdown, none is lost silently."""
        self.stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
        for run in list(self.active.values()):
            run.cancel.set()
        for task in list(self._tasks):
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                run_ids = [r.run_id for r in self.active.values()]
                for run_id in run_ids:
                    record = self.server.records.run(run_id)
                    if record is not None:
                        record.update(status="interrupted", error=STOPPED)
                        self.server.records.write(("run", record))
        self._writer.shutdown(wait=True)  # the last starts and ends are written


@dataclass
class _Pending:
    """A run start or end waiting to be recorded."""

    done: asyncio.Future[None]
    run: ActiveRun
    change: dict[str, Any]
    thread: dict[str, Any] | None
    end: bool = False


def _changed(run: ActiveRun, thread: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``thread`` as ``run``'s end leaves it (the run's values, if any, become the thread's)."""
    if "snapshot_values" in change:
        run.values = change["snapshot_values"]
    thread["interrupts"] = change["interrupts"]
    thread.update(status=change["status"], updated_at=now())
    if run.values is not None:
        thread["values"] = run.values
    return thread


def _attempt(write: Callable[[list[_Pending]], None], batch: list[_Pending]) -> BaseException | None:
    try:
        write(batch)
    except Exception as exc:
        return exc
    return None


def _settle_all(batch: list[_Pending], outcomes: list[BaseException | None]) -> None:
    """On the loop: resolve each pending write's future with its outcome."""
    for pending, error in zip(batch, outcomes, strict=True):
        _settle(pending.done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # its waiter was cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _partial_messages(partial: dict[str, Any], data: Any) -> list[tuple[str, Any]]:
    """The ``messages`` mode events for one ``(chunk, metadata)`` part: metadata once, then partials."""
    chunk, metadata = data
    key = str(getattr(chunk, "id", None) or id(chunk))
    events: list[tuple[str, Any]] = []
    if key not in partial:
        events.append(("messages/metadata", {key: {"metadata": metadata}}))
        partial[key] = chunk
    else:
        try:
            partial[key] = partial[key] + chunk
        except TypeError:
            partial[key] = chunk
    events.append(("messages/partial", [partial[key]]))
    return events


def command_from(body: dict[str, Any]) -> Command:
    """A ``Command`` from a request's ``command`` object (``resume``, ``update``, ``goto``)."""
    known = {k: body[k] for k in ("resume", "update", "goto") if body.get(k) is not None}
    return Command(**known)
