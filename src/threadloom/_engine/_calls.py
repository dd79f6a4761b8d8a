"""Functional-API task calls: a ``@task`` called inside a running node becomes a child task.

A call gets a deterministic id (its parent task's id, the task name and the
call's position), so when an interrupted node runs again on resume, a call
that had finished returns its saved result instead of running again, and a
call that had paused gets back the resume values it already received. The
results are saved as pending writes of the step (:meth:`Run.failure_ops`)
whenever the step does not complete.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

from threadloom._engine._caching import TASK_NS, cache_key, lookup, store
from threadloom._engine._constants import PUSH, RESUME, RETURN
from threadloom._engine._context import Task, current_task, reset_task, set_task
from threadloom._engine._events import EVENT_MODES, call_event, call_result_event, emit_event
from threadloom._engine._spec import NodeSpec
from threadloom._engine._task import retry_wait
from threadloom._engine._timeout import guarded
from threadloom._engine._tracing import aend_call, astart_call, end_call, start_call
from threadloom.errors import GraphBubbleUp, GraphInterrupt

__all__ = ["asettle_calls", "call_task", "settle_calls"]


def call_task(
    node: NodeSpec, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Start ``fn(*args, **kwargs)`` as a child task of the running task; return its future.

    Sync code gets a :class:`concurrent.futures.Future`; code running on an
    event loop gets an :class:`asyncio.Future` (await it).
    """
    parent = current_task()
    if parent is None:
        raise RuntimeError(
            f"task '{node.name}' can only be called from inside an entrypoint or a graph node"
        )
    child = _child(parent, node)
    saved = _saved(child)
    replayed = saved is not None
    policy, cache = node.cache_policy, parent.run.cache
    if saved is None and policy is not None and cache is not None:
        key = cache_key(TASK_NS, node.name, policy, *args, **kwargs)
        hit = lookup(cache, key)
        if hit is not None:
            saved = (hit,)
            _record(child, hit)
        else:
            fn = _caching(fn, cache, key, policy)
    # Async code (an async node or task) gets an awaitable; sync code a blocking future.
    loop = asyncio.get_running_loop() if _is_async(parent) else None
    is_async = asyncio.iscoroutinefunction(fn)
    if saved is not None:
        if replayed and parent.run.modes & EVENT_MODES:  # answered from an earlier attempt
            emit_event(parent.run, call_event(child, args, kwargs))
        if loop is not None:
            done: Any = loop.create_future()
            done.set_result(saved[0])
            return done
        sync_done: Future[Any] = Future()
        sync_done.set_result(saved[0])
        return sync_done
    ctx = contextvars.copy_context()
    if is_async:
        if loop is None:
            raise TypeError(
                f"task '{node.name}' is an async function; call it from an async entrypoint or node"
            )
        future: Any = ctx.run(asyncio.ensure_future, _arun(child, fn, args, kwargs))
    else:
        from threadloom._engine._drivers import executor

        if loop is not None:
            future = loop.run_in_executor(executor(), ctx.run, _run, child, fn, args, kwargs)
        else:
            future = executor().submit(ctx.run, _run, child, fn, args, kwargs)
    # The caller's step ends only once the calls it started have finished (see settle_calls).
    if parent.inflight is None:
        parent.inflight = [future]
    else:
        parent.inflight.append(future)
    return future


def settle_calls(task: Task) -> None:
    """Wait for the task calls ``task`` started and did not wait for itself (a node that
    returned, or was interrupted, before their results): their results are recorded with
    the step, as in LangGraph, so a resumed step does not run them again."""
    futures, task.inflight = task.inflight, None
    if futures:
        wait(futures)


async def asettle_calls(task: Task) -> None:
    """Async twin of :func:`settle_calls` (the futures of an async caller)."""
    futures, task.inflight = task.inflight, None
    pending = [f for f in futures or () if not f.done()]
    if pending:  # waiting on finished calls would yield to the event loop for nothing
        await asyncio.wait([asyncio.wrap_future(f) for f in pending])


def _caching(fn: Callable[..., Any], cache: Any, key: Any, policy: Any) -> Callable[..., Any]:
    """``fn`` that also stores its result in the cache."""
    if asyncio.iscoroutinefunction(fn):

        async def acached(*args: Any, **kwargs: Any) -> Any:
            value = await fn(*args, **kwargs)
            store(cache, key, value, policy)
            return value

        return acached

    def cached(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        store(cache, key, value, policy)
        return value

    return cached


def _is_async(parent: Task) -> bool:
    func = parent.node.func
    return func is not None and func.is_async_only


def _child(parent: Task, node: NodeSpec) -> Task:
    run = parent.run
    index = run.call_counts.get(parent.id, 0)
    run.call_counts[parent.id] = index + 1
    digest = hashlib.md5(
        f"{parent.id}:{node.name}:{index}".encode(), usedforsecurity=False
    ).hexdigest()
    child_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    child = Task(run, node, child_id, ("call", parent.id, index), (), None)
    child.config = _call_config(parent, node.name, index)
    return child


def _call_config(parent: Task, name: str, index: int) -> Any:
    """The config a ``@task`` call runs with: its caller's, with the call's own metadata, as
    LangGraph's (the task's name, pushed, its path under the caller's)."""
    config = parent.config
    if config is None:
        return None
    metadata = dict(config.get("metadata") or {})
    caller_path = metadata.get("langgraph_path", parent.path)
    metadata["langgraph_node"] = name
    metadata["langgraph_triggers"] = (PUSH,)
    metadata["langgraph_path"] = (PUSH, caller_path, index, True)
    return {**config, "metadata": metadata}


def _saved(child: Task) -> tuple[Any] | None:
    """The saved result of this call, if it finished in an earlier attempt of the step."""
    result: tuple[Any] | None = None
    for tid, channel, value in child.run.pending_writes:
        if tid != child.id:
            continue
        if channel == RETURN:
            result = (value,)
        elif channel == RESUME:
            child.resume = list(value)
    return result


def _record(child: Task, value: Any, *, announce: bool = True) -> None:
    child.result = value
    run = child.run
    run.calls.append(child)
    if announce:
        run.emit("updates", {child.name: value})


def _run(child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    events = bool(child.run.modes & EVENT_MODES)
    if events:
        emit_event(child.run, call_event(child, args, kwargs))
    call_run = start_call(child, fn, args, kwargs) if child.run.trace is not None else None
    token = set_task(child)
    lc_token = var_child_runnable_config.set(child.config)
    try:
        value = _attempts(child, fn, args, kwargs)
    except BaseException as exc:
        if call_run is not None:
            end_call(call_run, exc)
        if events:
            emit_event(child.run, call_result_event(child, exc))
        raise
    finally:
        var_child_runnable_config.reset(lc_token)
        reset_task(token)
    if call_run is not None:
        end_call(call_run, None, value)
    child.run.emit("updates", {child.name: value})  # after the call's run ends, as LangGraph
    if events:
        emit_event(child.run, call_result_event(child, None, value))
    return value


def _attempts(
    child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    attempt = 0
    while True:
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:
            attempt += 1
            time.sleep(_retry_wait(child, exc, attempt))
            continue
        _record(child, value, announce=False)
        from threadloom._engine._drivers import save_now  # the drivers import this module

        save_now(child.run, child.run.call_ops(child))
        return value


def _retry_wait(child: Task, exc: Exception, attempt: int) -> float:
    """After failed attempt ``attempt``: the seconds to wait before the next one; an
    interrupt, or an error the retry policy gives up on, is raised again."""
    if isinstance(exc, GraphBubbleUp):
        _paused(child, exc)
        raise exc
    wait = retry_wait(child.node.retry_policy, exc, attempt)
    if wait is None:
        raise exc
    return wait


async def _arun(
    child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    events = bool(child.run.modes & EVENT_MODES)
    if events:
        emit_event(child.run, call_event(child, args, kwargs))
    call_run = None
    if child.run.trace is not None:
        call_run = await astart_call(child, fn, args, kwargs)
    set_task(child)  # this coroutine runs in its own copy of the context
    var_child_runnable_config.set(child.config)
    try:
        value = await _aattempts(child, fn, args, kwargs)
    except BaseException as exc:
        if call_run is not None:
            await aend_call(call_run, exc)
        if events:
            emit_event(child.run, call_result_event(child, exc))
        raise
    if call_run is not None:
        await aend_call(call_run, None, value)
    child.run.emit("updates", {child.name: value})  # after the call's run ends, as LangGraph
    if events:
        emit_event(child.run, call_result_event(child, None, value))
    return value


async def _aattempts(
    child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    attempt = 0
    timeout = child.node.timeout
    while True:
        try:
            if timeout is None:
                value = await fn(*args, **kwargs)
            else:
                value = await guarded(child.name, timeout, fn(*args, **kwargs))
        except Exception as exc:
            attempt += 1
            await asyncio.sleep(_retry_wait(child, exc, attempt))
            continue
        _record(child, value, announce=False)
        from threadloom._engine._drivers import asave_now  # the drivers import this module

        await asave_now(child.run, child.run.call_ops(child))
        return value


def _paused(child: Task, exc: GraphBubbleUp) -> None:
    if isinstance(exc, GraphInterrupt):
        child.paused = True
        child.interrupts = list(exc.interrupts)
        child.run.calls.append(child)
