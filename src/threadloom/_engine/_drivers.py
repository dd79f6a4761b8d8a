"""The superstep loop, twice: a sync driver (threads) and an async one (tasks).

Both follow the same script over :class:`~threadloom._engine._run.Run`:
load the thread, apply the input, then per step plan the tasks, run them
concurrently, save pending writes if any failed, apply all writes together,
save a checkpoint and stream the results.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

from threadloom._engine._context import Task, reset_task, set_task
from threadloom._engine._run import Op, Run
from threadloom.channels.base import MISSING as _UNSET
from threadloom.errors import GraphBubbleUp, GraphInterrupt, ParentCommand

__all__ = ["Event", "Sink", "execute_task", "run_async", "run_sync"]

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


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="threadloom")
    return _pool


# --- one task ------------------------------------------------------------------


def _prepare(task: Task) -> None:
    run = task.run
    task.config = run.task_config(task)
    if run.modes & _EVENT_MODES:
        _emit_event(run, _debug_task(task))


def _finish(task: Task, branch_writes: list[tuple[str, Any]]) -> None:
    task.writes.extend(branch_writes)
    handler = task.run.callbacks_handler
    if handler is not None and task.config is not None:
        handler.node_output(task.config["metadata"], task.result, task.input)


def _fail(task: Task, exc: BaseException) -> None:
    if isinstance(exc, ParentCommand):
        raise exc  # from a graph run inside this task: its command is this task's output
    if isinstance(exc, GraphInterrupt):
        task.interrupts = list(exc.interrupts)
        task.paused = True
    else:
        task.error = exc


def execute_task(task: Task) -> None:
    """Run one task synchronously, with retries; record its writes, interrupts or error."""
    _prepare(task)
    token = set_task(task)
    lc_token = var_child_runnable_config.set(task.config)
    try:
        _attempts_sync(task)
    except ParentCommand as exc:
        try:
            _finish(task, _branches_sync(task, task.run.process_output(task, exc.command)))
        except Exception as inner:
            task.error = inner
    except Exception as exc:
        task.error = exc
    finally:
        var_child_runnable_config.reset(lc_token)
        reset_task(token)


def _attempts_sync(task: Task) -> None:
    node = task.node
    run = task.run
    attempt = 0
    while True:
        try:
            assert node.func is not None
            output = node.func.call(task, task.input)
            _finish(task, _branches_sync(task, run.process_output(task, output)))
            return
        except GraphBubbleUp as exc:
            _fail(task, exc)
            return
        except Exception as exc:
            attempt += 1
            policy = node.retry_policy
            if policy is not None and attempt < policy.max_attempts and policy.should_retry(exc):
                task.writes = []
                time.sleep(policy.interval(attempt))
                continue
            raise


def _branches_sync(task: Task, branches: list[Any]) -> list[tuple[str, Any]]:
    if not branches:
        return []
    run = task.run
    out: list[tuple[str, Any]] = []
    for branch in branches:
        state = run.fresh_state(task, task.writes)
        out.extend(run.resolve_branch(task.name, branch, branch.path.call(task, state)))
    return out


async def aexecute_task(task: Task) -> None:
    """Async twin of :func:`execute_task`."""
    _prepare(task)
    token = set_task(task)
    lc_token = var_child_runnable_config.set(task.config)
    try:
        await _attempts_async(task)
    except ParentCommand as exc:
        try:
            branches = task.run.process_output(task, exc.command)
            _finish(task, await _branches_async(task, branches))
        except Exception as inner:
            task.error = inner
    except Exception as exc:
        task.error = exc
    finally:
        var_child_runnable_config.reset(lc_token)
        reset_task(token)


async def _attempts_async(task: Task) -> None:
    node = task.node
    run = task.run
    attempt = 0
    while True:
        try:
            assert node.func is not None
            output = await node.func.acall(task, task.input)
            _finish(task, await _branches_async(task, run.process_output(task, output)))
            return
        except GraphBubbleUp as exc:
            _fail(task, exc)
            return
        except Exception as exc:
            attempt += 1
            policy = node.retry_policy
            if policy is not None and attempt < policy.max_attempts and policy.should_retry(exc):
                task.writes = []
                await asyncio.sleep(policy.interval(attempt))
                continue
            raise


async def _branches_async(task: Task, branches: list[Any]) -> list[tuple[str, Any]]:
    if not branches:
        return []
    run = task.run
    out: list[tuple[str, Any]] = []
    for branch in branches:
        state = run.fresh_state(task, task.writes)
        if branch.path.afn is not None or branch.path.is_runnable:
            result = await branch.path.acall(task, state)
        else:
            result = branch.path.call(task, state)
        out.extend(run.resolve_branch(task.name, branch, result))
    return out


# --- step bookkeeping shared by both drivers ------------------------------------


def _step_outcome(run: Run, tasks: list[Task]) -> tuple[list[Op], BaseException | None]:
    """After the tasks ran: the pending writes to save, and the error to raise if any."""
    errors = [t.error for t in tasks if t.error is not None]
    interrupted = [t for t in tasks if t.paused]
    parent_command = run.parent_command
    if not errors and not interrupted and parent_command is None:
        return [], None
    if parent_command is not None and not errors:
        return [], ParentCommand(parent_command)
    ops = run.failure_ops(tasks)
    if run.modes & _EVENT_MODES:
        for task in tasks:
            _emit_event(run, _debug_result(task))
    if errors:
        return ops, errors[0]
    run.interrupts = [i for t in interrupted for i in t.interrupts]
    run.interrupted = True
    run.emit_interrupts()
    if run.parent is not None:
        return ops, GraphInterrupt(run.interrupts)
    return ops, None


def _after_apply(run: Run, tasks: list[Task]) -> None:
    run.emit_updates(tasks)
    if run.modes & _EVENT_MODES:
        for task in tasks:
            _emit_event(run, _debug_result(task))


def _static_interrupt(run: Run) -> BaseException | None:
    run.interrupted = True
    run.interrupts = []
    run.emit_interrupts()
    return GraphInterrupt([]) if run.parent is not None else None


_EVENT_MODES = frozenset({"debug", "tasks", "checkpoints"})


def _emit_event(run: Run, event: dict[str, Any]) -> None:
    """Send a run event on ``debug`` (whole) and on ``tasks``/``checkpoints`` (its payload)."""
    run.emit("debug", event)
    run.emit("checkpoints" if event["type"] == "checkpoint" else "tasks", event["payload"])


def _debug_task(task: Task) -> dict[str, Any]:
    return {
        "type": "task",
        "timestamp": _now(),
        "step": task.run.step + 1,
        "payload": {
            "id": task.id,
            "name": task.name,
            "input": task.input,
            "triggers": task.triggers,
        },
    }


def _debug_result(task: Task) -> dict[str, Any]:
    return {
        "type": "task_result",
        "timestamp": _now(),
        "step": task.run.step,
        "payload": {
            "id": task.id,
            "name": task.name,
            "error": repr(task.error) if task.error is not None else None,
            "result": [(k, v) for k, v in task.writes if k],
            "interrupts": list(task.interrupts),
        },
    }


def _debug_checkpoint(run: Run) -> dict[str, Any]:
    return {
        "type": "checkpoint",
        "timestamp": _now(),
        "step": run.step,
        "payload": {
            "config": run.checkpoint_config,
            "parent_config": run.parent_config,
            "values": run.read_state(),
            "metadata": run.metadata,
            "next": [t.name for t in run.next_tasks(dry=True)],
        },
    }


def _now() -> str:
    from threadloom._engine._checkpoint import now_iso

    return now_iso()


# --- sync driver -----------------------------------------------------------------


def _keep(run: Run) -> None:
    """Keep the thread's channels for its next turn (not for one-off subgraph namespaces)."""
    if run.saver is None or run.checkpoint_id is None:
        return
    if run.parent is None or run.graph.checkpointer is True:
        run.graph._cache.put(run.cache_key, run.thread_state())


def _save_sync(run: Run, ops: list[Op]) -> None:
    saver = run.saver
    for kind, args in ops:
        if kind == "put":
            run.on_saved(saver.put(*args))
        else:
            saver.put_writes(*args)


def _load_sync(run: Run) -> None:
    saver = run.saver
    if saver is None:
        run.load_fresh()
        return
    cache = run.graph._cache
    if run.wants_latest():
        cached = cache.take(run.cache_key)
        if cached is not None:
            latest = saver.peek_latest(run.saver_config())
            if latest is not None and latest[0] == cached.checkpoint_id and not latest[1]:
                run.load_cached(cached)
                return
    run.load_tuple(saver.get_tuple(run.saver_config()))


def _pump(sink: Sink | None) -> list[Event]:
    return sink.drain() if sink is not None else []


def run_sync(run: Run, value: Any, sink: Sink | None) -> Iterator[Event]:
    """Drive ``run`` to its end, yielding stream parts as they are produced."""
    _load_sync(run)
    _save_sync(run, run.apply_input(value))
    if run.modes & _EVENT_MODES and run.saver is not None and run.updated is not None:
        _emit_event(run, _debug_checkpoint(run))
    yield from _pump(sink)
    while True:
        tasks = run.next_tasks()
        if not tasks:
            break
        if run.should_interrupt_before(tasks):
            error = _static_interrupt(run)
            yield from _pump(sink)
            if error is not None:
                raise error
            return
        run.check_recursion()
        todo = [t for t in tasks if t.result is _UNSET]
        if sink is not None and sink.live and todo:
            yield from _execute_live(todo, sink)
        else:
            _execute_sync(todo)
        ops, error = _step_outcome(run, tasks)
        _save_sync(run, ops)
        if error is not None or run.interrupted:
            yield from _pump(sink)
            if error is not None:
                raise error
            return
        run.apply_writes(tasks)
        run.step += 1
        _save_sync(run, run.checkpoint_ops("loop"))
        _after_apply(run, tasks)
        run.emit_values()
        if run.modes & _EVENT_MODES and run.saver is not None:
            _emit_event(run, _debug_checkpoint(run))
        yield from _pump(sink)
        if run.should_interrupt_after(tasks):
            error = _static_interrupt(run)
            yield from _pump(sink)
            if error is not None:
                raise error
            return
    run.done = True
    _keep(run)


def _execute_sync(tasks: list[Task]) -> None:
    if len(tasks) == 1:
        execute_task(tasks[0])
        return
    pool = _executor()
    futures: list[Future[None]] = [
        pool.submit(contextvars.copy_context().run, execute_task, t) for t in tasks[1:]
    ]
    execute_task(tasks[0])
    for future in futures:
        future.result()


def _execute_live(tasks: list[Task], sink: Sink) -> Iterator[Event]:
    pool = _executor()
    live: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sink.queue = live
    remaining = len(tasks)
    try:
        for task in tasks:
            future = pool.submit(contextvars.copy_context().run, execute_task, task)
            future.add_done_callback(lambda _f: live.put(_DONE))
        while remaining:
            item = live.get()
            if item is _DONE:
                remaining -= 1
            else:
                yield item
    finally:
        sink.queue = None


# --- async driver ----------------------------------------------------------------


async def _save_async(run: Run, ops: list[Op]) -> None:
    saver = run.saver
    for kind, args in ops:
        if kind == "put":
            run.on_saved(await saver.aput(*args))
        else:
            await saver.aput_writes(*args)


async def _load_async(run: Run) -> None:
    saver = run.saver
    if saver is None:
        run.load_fresh()
        return
    cache = run.graph._cache
    if run.wants_latest():
        cached = cache.take(run.cache_key)
        if cached is not None:
            latest = await saver.apeek_latest(run.saver_config())
            if latest is not None and latest[0] == cached.checkpoint_id and not latest[1]:
                run.load_cached(cached)
                return
    run.load_tuple(await saver.aget_tuple(run.saver_config()))


async def run_async(run: Run, value: Any, sink: Sink | None) -> AsyncIterator[Event]:
    """Async twin of :func:`run_sync`."""
    await _load_async(run)
    await _save_async(run, run.apply_input(value))
    if run.modes & _EVENT_MODES and run.saver is not None and run.updated is not None:
        _emit_event(run, _debug_checkpoint(run))
    for item in _pump(sink):
        yield item
    while True:
        tasks = run.next_tasks()
        if not tasks:
            break
        if run.should_interrupt_before(tasks):
            error = _static_interrupt(run)
            for item in _pump(sink):
                yield item
            if error is not None:
                raise error
            return
        run.check_recursion()
        todo = [t for t in tasks if t.result is _UNSET]
        if sink is not None and sink.live and todo:
            async for item in _aexecute_live(todo, sink):
                yield item
        elif len(todo) == 1:
            await aexecute_task(todo[0])
        elif todo:
            await asyncio.gather(*(aexecute_task(t) for t in todo))
        ops, error = _step_outcome(run, tasks)
        await _save_async(run, ops)
        if error is not None or run.interrupted:
            for item in _pump(sink):
                yield item
            if error is not None:
                raise error
            return
        run.apply_writes(tasks)
        run.step += 1
        await _save_async(run, run.checkpoint_ops("loop"))
        _after_apply(run, tasks)
        run.emit_values()
        if run.modes & _EVENT_MODES and run.saver is not None:
            _emit_event(run, _debug_checkpoint(run))
        for item in _pump(sink):
            yield item
        if run.should_interrupt_after(tasks):
            error = _static_interrupt(run)
            for item in _pump(sink):
                yield item
            if error is not None:
                raise error
            return
    run.done = True
    _keep(run)


async def _aexecute_live(tasks: list[Task], sink: Sink) -> AsyncIterator[Event]:
    live: asyncio.Queue[Any] = asyncio.Queue()
    sink.loop = asyncio.get_running_loop()
    sink.queue = live
    remaining = len(tasks)
    try:
        for task in tasks:
            future = asyncio.ensure_future(aexecute_task(task))
            future.add_done_callback(lambda _f: live.put_nowait(_DONE))
        while remaining:
            item = await live.get()
            if item is _DONE:
                remaining -= 1
            else:
                yield item
    finally:
        sink.queue = None
