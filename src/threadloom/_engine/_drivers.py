"""The drivers: thin loops that carry out the requests of the superstep and task scripts.

The step logic lives once in ``_superstep`` (and a task's in ``_task``); a
driver only performs the I/O: the sync one calls the saver and runs tasks in
threads, the async one awaits the saver and runs tasks as asyncio tasks.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import AsyncGenerator, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import aclosing
from typing import Any, TypeVar

from threadloom._engine._calls import asettle_calls, settle_calls
from threadloom._engine._constants import START
from threadloom._engine._context import Task
from threadloom._engine._run import Op, Run
from threadloom._engine._superstep import SaverCall, Script, abandon, save, script
from threadloom._engine._task import Call, task_script
from threadloom._engine._timeout import guarded, step_deadline, time_out
from threadloom._engine._tracing import aend_node, astart_node, end_node, start_node
from threadloom.errors import GraphBubbleUp, NodeCancelledError

__all__ = [
    "Event",
    "Sink",
    "Tee",
    "aexecute_task",
    "asave_now",
    "complete_async",
    "complete_sync",
    "execute_task",
    "executor",
    "run_async",
    "run_sync",
    "save_now",
]

T = TypeVar("T")
R = TypeVar("R")

Event = tuple[tuple[str, ...], str, Any]
"""A stream part: ``(namespace, mode, payload)``."""

_DONE = object()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


class Sink:
    """Where a root run's stream parts go: a buffer, or a queue while tasks stream live.

    Subgraph runs share their root's sink; parts from inside a subgraph are
    kept only for ``subgraphs=True`` or for the ``messages``/``custom`` modes.
    """

    __slots__ = ("buffer", "live", "loop", "queue", "subgraphs")

    def __init__(self, *, live: bool, subgraphs: bool, loop: Any = None) -> None:
        self.buffer: list[Event] = []
        self.live = live
        self.subgraphs = subgraphs
        self.loop = loop
        self.queue: Any = None

    def __call__(self, ns: tuple[str, ...], mode: str, payload: Any) -> None:
        if ns and not self.subgraphs and mode not in ("messages", "custom"):
            return
        item = (ns, mode, payload)
        q = self.queue
        if q is None:
            self.buffer.append(item)
        elif self.loop is None:
            q.put(item)
        else:
            self.loop.call_soon_threadsafe(q.put_nowait, item)

    def drain(self) -> list[Event]:
        """The buffered parts, oldest first; the buffer is emptied."""
        items = self.buffer
        if items:
            self.buffer = []
        return items


class Tee:
    """Where the parts of a subgraph streamed by its caller inside a node go: to that
    caller's :class:`Sink` (namespaces relative to the subgraph) for the modes it asked
    for, and to the parent run's sink for the modes the parent streams."""

    __slots__ = ("own", "own_modes", "parent", "parent_modes", "prefix")

    def __init__(
        self, own: Sink, own_modes: frozenset[str], parent: Any, parent_modes: frozenset[str]
    ) -> None:
        self.own = own
        self.own_modes = own_modes
        self.parent = parent
        self.parent_modes = parent_modes
        self.prefix: tuple[str, ...] = ()

    def __call__(self, ns: tuple[str, ...], mode: str, payload: Any) -> None:
        if mode in self.parent_modes:
            self.parent(ns, mode, payload)
        if mode in self.own_modes:
            self.own(self.relative(ns), mode, payload)

    def relative(self, ns: tuple[str, ...]) -> tuple[str, ...]:
        """``ns`` as the subgraph's own caller sees it (its own parts at ``()``)."""
        size = len(self.prefix)
        return ns[size:] if ns[:size] == self.prefix else ns


def executor() -> ThreadPoolExecutor:
    """The shared worker pool for sync tasks."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="threadloom")
    return _pool


_PER_TASK = frozenset({"updates", "tasks", "debug"})
"""The stream modes with a part per finished task."""


def _streams_live(sink: Sink | None, tasks: list[Task]) -> bool:
    """Whether the step's parts reach the caller as they are made: in the live modes, and
    in those with a part per task when the step has several (each as its task finishes)."""
    if sink is None:
        return False
    return sink.live or (len(tasks) > 1 and not _PER_TASK.isdisjoint(tasks[0].run.modes))


def _capture(program: Script[T], box: list[T]) -> Script[None]:
    box.append((yield from program))


# --- sync: the caller's thread, tasks in a thread pool ------------------------------------


def run_sync(run: Run, value: Any, sink: Sink | None) -> Iterator[Event]:
    """Drive ``run`` to its end, yielding stream parts as they are produced."""
    return _drive_sync(script(run, value), sink)


def complete_sync(program: Script[T]) -> T:
    """Carry out a script of saver calls (load, save, a state read) and return its result."""
    box: list[T] = []
    for _ in _drive_sync(_capture(program, box), None):
        pass
    return box[0]


def _drive_sync(program: Script[Any], sink: Sink | None) -> Iterator[Event]:
    send = program.send
    reply = None
    while True:
        try:  # only the script's end is a StopIteration here, never a saver's
            request = send(reply)
        except StopIteration:
            return
        reply = None
        if type(request) is SaverCall:
            reply = getattr(request.saver, request.method)(*request.args)
        elif type(request) is list:
            if _streams_live(sink, request):
                assert sink is not None
                yield from _execute_live(request, sink)
            else:
                _execute_all(request)
        elif sink is not None:
            yield from sink.drain()


def execute_task(task: Task) -> None:
    """Run one task in this thread; its writes, interrupts or error end up on ``task``."""
    steps = task_script(task)
    try:
        request = steps.send(None)
    except StopIteration:  # answered from the cache: nothing ran
        task.finished = True
        return
    run = task.run
    if run.trace is None:
        _perform_all(task, steps, request)
    else:
        node_run = start_node(task)
        try:
            _perform_all(task, steps, request)
        except BaseException as exc:
            node_run.on_chain_error(exc)
            raise
        end_node(node_run, task)
    task.finished = True
    if run.modes and task.name != START:
        run.emit_finished(task)


def _perform_all(task: Task, steps: Generator[Call | float, Any, None], request: Any) -> None:
    try:
        while True:
            try:
                if isinstance(request, float):
                    time.sleep(request)
                    reply = None
                else:
                    try:
                        reply = request[0].call(task, request[1])
                    finally:
                        if task.inflight:
                            settle_calls(task)
            except asyncio.CancelledError:  # raised by the node's own (sync) body: it failed
                request = steps.throw(NodeCancelledError(task.name))
            except BaseException as exc:  # the script decides; what it does not handle propagates
                request = steps.throw(exc)
            else:
                request = steps.send(reply)
    except StopIteration:
        return


def _agated(limit: int) -> Any:
    """``aexecute_task`` with at most ``limit`` tasks at once (``config["max_concurrency"]``)."""
    gate = asyncio.Semaphore(limit)

    async def gated(task: Task) -> None:
        async with gate:
            await aexecute_task(task)

    return gated


async def _aexecute_all(tasks: list[Task]) -> None:
    """Run the step's tasks until all are done, one fails (the others are cancelled, as in
    LangGraph), or the step's deadline passes."""
    deadline = step_deadline(tasks)
    if len(tasks) == 1 and deadline is None:
        await aexecute_task(tasks[0])
        return
    limit = tasks[0].run.config.get("max_concurrency")
    work = _agated(int(limit)) if limit and len(tasks) > limit else aexecute_task
    runs: dict[asyncio.Future[None], Task] = {asyncio.ensure_future(work(t)): t for t in tasks}
    pending: set[asyncio.Future[None]] = set(runs)
    saves = _saves_each(tasks)
    stopped: set[asyncio.Future[None]] = set()  # the tasks this step cancelled itself
    try:
        while pending:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:  # the deadline passed
                await _acancel(pending)
                stopped |= pending
                time_out([runs[f] for f in pending])
                break
            for future in done:
                if future.cancelled() or future.exception() is not None:
                    # What a task script does not record (a cancellation from inside a
                    # node on Python 3.10, a parent command, ...) ends the step at once.
                    await _acancel(pending)
                    future.result()
            if saves:
                for future in done:
                    await _asave_finished(runs[future])
            if pending and any(_failed(runs[f]) for f in done):
                stoppable = {f for f in pending if _stoppable(runs[f])}
                await _acancel(stoppable)
                stopped |= stoppable
                pending -= stoppable  # nodes in worker threads finish, and their writes count
    except BaseException:  # the run itself is cancelled: so are its tasks
        await _acancel(runs)
        raise
    for future in runs:
        if future not in stopped:
            future.result()


def _saves_each(tasks: list[Task]) -> bool:
    """Whether each task's writes are saved as it finishes (``durability="sync"``, a step of
    several tasks, a saver): a crash later in the step does not lose them."""
    run = tasks[0].run
    return len(tasks) > 1 and run.durability == "sync" and run.saver is not None


def save_now(run: Run, ops: list[Op]) -> None:
    """Carry out saver operations outside the step's script, as :func:`save` does in it."""
    if ops:
        complete_sync(save(run, ops))


async def asave_now(run: Run, ops: list[Op]) -> None:
    """Async twin of :func:`save_now`."""
    if ops:
        await complete_async(save(run, ops))


def _save_finished(task: Task) -> None:
    save_now(task.run, task.run.finished_ops(task))


async def _asave_finished(task: Task) -> None:
    await asave_now(task.run, task.run.finished_ops(task))


def _failed(task: Task) -> bool:
    """Whether ``task`` failed so that its step stops (an interrupt lets the others finish)."""
    return task.error is not None and not isinstance(task.error, GraphBubbleUp)


def _stoppable(task: Task) -> bool:
    """Whether cancelling ``task`` stops its node: a sync function runs on in its worker
    thread whatever happens, so a failed step waits for it instead and keeps its writes."""
    func = task.node.func
    return func is None or func.afn is not None


async def _acancel(futures: Any) -> None:
    """Cancel the asyncio tasks and wait until they have unwound."""
    for future in futures:
        future.cancel()
    await asyncio.gather(*futures, return_exceptions=True)


def _execute_all(tasks: list[Task]) -> None:
    deadline = step_deadline(tasks)
    if len(tasks) == 1 and deadline is None:
        execute_task(tasks[0])
        return
    limit = tasks[0].run.config.get("max_concurrency")
    if deadline is not None or (limit and len(tasks) > limit) or _saves_each(tasks):
        _execute_pooled(tasks, int(limit) if limit and len(tasks) > limit else 0, deadline)
        return
    pool = executor()
    futures: list[Future[None]] = [
        pool.submit(contextvars.copy_context().run, execute_task, t) for t in tasks[1:]
    ]
    execute_task(tasks[0])
    for future in futures:
        future.result()


def _execute_pooled(tasks: list[Task], limit: int, deadline: float | None) -> None:
    """Run every task in the pool, at most ``limit`` at once (0: no limit), until ``deadline``."""
    stopped = threading.Event()
    gate = threading.Semaphore(limit) if limit else None

    def work(task: Task) -> None:
        if gate is None:
            execute_task(task)
            return
        with gate:
            if not stopped.is_set():  # the step timed out while this one waited its turn
                execute_task(task)

    pool = executor()
    futures = {pool.submit(contextvars.copy_context().run, work, t): t for t in tasks}
    saves = _saves_each(tasks)
    late: set[Future[None]] = set(futures)
    while late:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, late = wait(late, timeout=timeout, return_when=FIRST_COMPLETED)
        if not done:  # the deadline passed
            break
        if saves:
            for future in done:
                _save_finished(futures[future])
    done = set(futures) - late
    if late:
        stopped.set()
        for future in late:
            future.cancel()  # a task already running in its thread cannot be stopped: abandoned
        time_out([t for f, t in futures.items() if f in late])
    for future in futures:
        if future in done:
            future.result()


def _execute_live(tasks: list[Task], sink: Sink) -> Iterator[Event]:
    """Run the tasks in threads, yielding the parts they stream while they run."""
    deadline = step_deadline(tasks)
    pool = executor()
    live: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sink.queue = live
    futures: dict[Future[None], Task] = {}
    try:
        for task in tasks:
            future = pool.submit(contextvars.copy_context().run, execute_task, task)
            futures[future] = task
            future.add_done_callback(lambda _f: live.put(_DONE))
        remaining = len(tasks)
        saves = _saves_each(tasks)
        saved: set[Future[None]] = set()
        while remaining:
            if deadline is None:
                item = live.get()
            else:
                try:
                    item = live.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    late = [t for f, t in futures.items() if not f.done()]
                    if late:
                        for future in futures:
                            future.cancel()
                        time_out(late)
                        return
                    deadline = None  # all finished as the time ran out: take their last parts
                    continue
            if item is _DONE:
                remaining -= 1
                for future in [f for f in futures if saves and f.done() and f not in saved]:
                    saved.add(future)
                    _save_finished(futures[future])
            else:
                yield item
    finally:
        sink.queue = None


# --- async: the event loop, tasks as asyncio tasks -----------------------------------------


def run_async(run: Run, value: Any, sink: Sink | None) -> AsyncGenerator[Event, None]:
    """Async twin of :func:`run_sync`."""
    return _drive_async(script(run, value), sink)


async def complete_async(program: Script[T]) -> T:
    """Async twin of :func:`complete_sync`."""
    box: list[T] = []
    async for _ in _drive_async(_capture(program, box), None):
        pass
    return box[0]


async def _drive_async(program: Script[Any], sink: Sink | None) -> AsyncGenerator[Event, None]:
    request = _resume(program, None, None)
    while request is not None:
        reply = None
        if type(request) is SaverCall:
            reply = await getattr(request.saver, "a" + request.method)(*request.args)
        elif type(request) is list:
            tasks = request
            try:
                if _streams_live(sink, tasks):
                    assert sink is not None
                    async with aclosing(_aexecute_live(tasks, sink)) as live:
                        async for item in live:
                            yield item
                else:
                    await _aexecute_all(tasks)
            except (asyncio.CancelledError, GeneratorExit):
                # Cancelled, or the caller closed the stream: keep what the step finished.
                await asyncio.shield(complete_async(abandon(tasks[0].run, tasks)))
                raise
        elif sink is not None:
            for item in sink.drain():
                yield item
        request = _resume(program, reply, None)


async def aexecute_task(task: Task) -> None:
    """Run one task on the event loop; a sync node runs in a worker thread."""
    steps = task_script(task)
    request = _resume(steps, None, None)
    if request is None:  # answered from the cache: nothing ran
        task.finished = True
        return
    run = task.run
    if run.trace is None:
        await _aperform_all(task, steps, request)
    else:
        node_run = await astart_node(task)
        try:
            await _aperform_all(task, steps, request)
        except BaseException as exc:
            await node_run.on_chain_error(exc)
            raise
        await aend_node(node_run, task)
    task.finished = True
    if run.modes and task.name != START:
        run.emit_finished(task)


async def _aperform_all(
    task: Task, steps: Generator[Call | float, Any, None], request: Call | float | None
) -> None:
    while request is not None:
        try:
            reply = await _aperform(task, request)
        except BaseException as exc:  # the script decides; what it does not handle propagates
            if isinstance(exc, asyncio.CancelledError) and not _cancel_requested():
                # The node's own body raised it: a failure of the node, as in LangGraph.
                exc = NodeCancelledError(task.name)
            request = _resume(steps, None, exc)
        else:
            request = _resume(steps, reply, None)


def _cancel_requested() -> bool:
    """Whether the running asyncio task is being cancelled (by its caller, a timeout, or a
    sibling's failure); without ``Task.cancelling`` (Python 3.10) every cancellation counts."""
    current = asyncio.current_task()
    cancelling = getattr(current, "cancelling", None)
    return cancelling is None or cancelling() > 0


async def _aperform(task: Task, request: Call | float) -> Any:
    if isinstance(request, float):
        await asyncio.sleep(request)
        return None
    try:
        return await _acall(task, request)
    finally:
        if task.inflight:
            await asettle_calls(task)


async def _acall(task: Task, request: Call) -> Any:
    func, value, offload = request
    if offload and task.node.timeout is not None:
        return await guarded(task.name, task.node.timeout, func.acall(task, value))
    if offload or func.afn is not None or func.is_runnable:
        return await func.acall(task, value)
    return func.call(task, value)  # a sync branch path runs in place


def _resume(program: Generator[R, Any, Any], reply: Any, error: BaseException | None) -> R | None:
    """Send a request's result (or throw its error) into a script; ``None`` once it has ended.

    The sync loops inline this: they run on every ``invoke``, where a call per
    request shows in the per-step overhead.
    """
    try:
        return program.send(reply) if error is None else program.throw(error)
    except StopIteration:
        return None


async def _aexecute_live(tasks: list[Task], sink: Sink) -> AsyncGenerator[Event, None]:
    """Run the tasks as asyncio tasks, yielding the parts they stream while they run."""
    deadline = step_deadline(tasks)
    live: asyncio.Queue[Any] = asyncio.Queue()
    sink.loop = asyncio.get_running_loop()
    sink.queue = live
    remaining = len(tasks)
    runs: dict[asyncio.Future[None], Task] = {}
    try:
        for task in tasks:
            future = asyncio.ensure_future(aexecute_task(task))
            runs[future] = task
            future.add_done_callback(lambda _f: live.put_nowait(_DONE))
        saves = _saves_each(tasks)
        seen: set[asyncio.Future[None]] = set()
        stopped: set[asyncio.Future[None]] = set()  # the tasks this step cancelled itself
        while remaining:
            if not live.empty():
                item = live.get_nowait()
            elif deadline is None:
                item = await live.get()
            else:
                try:
                    item = await asyncio.wait_for(
                        live.get(), max(0.0, deadline - time.monotonic())
                    )
                except asyncio.TimeoutError:
                    late = [t for f, t in runs.items() if not f.done()]
                    if late:
                        await _acancel([f for f in runs if not f.done()])
                        time_out(late)
                        return
                    deadline = None  # all finished as the time ran out: take their last parts
                    continue
            if item is _DONE:
                remaining -= 1
                for finished in [f for f in runs if f.done() and f not in seen]:
                    seen.add(finished)
                    if finished in stopped:
                        continue
                    if finished.cancelled() or finished.exception() is not None:
                        await _acancel([f for f in runs if not f.done()])
                        finished.result()  # not recorded by its task script: ends the step
                    if saves:
                        await _asave_finished(runs[finished])
                if remaining and any(f.done() and _failed(t) for f, t in runs.items()):
                    stoppable = [f for f, t in runs.items() if not f.done() and _stoppable(t)]
                    stopped.update(stoppable)
                    await _acancel(stoppable)  # the step failed; threads run to their end
            else:
                yield item
    finally:
        sink.queue = None
        running = [f for f in runs if not f.done()]
        if running:  # the caller closed the stream, or the run is cancelled
            await _acancel(running)
