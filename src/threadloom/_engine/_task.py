"""One task, written once: call the node with retries, then its branches; record the outcome.

:func:`task_script` is a generator that yields the calls it needs performed,
so the sync executor (threads) and the async one (tasks) in ``_drivers`` share
the retry policy and the handling of interrupts, parent commands and errors.
It yields plain values, as this runs once per node per step:

- a :data:`Call` tuple ``(func, value, offload)``: call the node or branch
  function with ``value`` as its state argument and send back its result, or
  throw its exception into the script; ``offload`` (a node) lets the async
  executor run a sync function in a worker thread, while a sync branch path is
  cheap and runs in place;
- a ``float``: sleep that many seconds before the next attempt.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from typing import Any

from langchain_core.runnables.config import var_child_runnable_config

from threadloom._engine._caching import NODE_NS, cache_key, lookup, store
from threadloom._engine._constants import TASKS
from threadloom._engine._context import Task, reset_task, set_task
from threadloom._engine._handlers import error_record
from threadloom._engine._injection import NodeFunc
from threadloom._engine._results import fresh_state
from threadloom.errors import GraphBubbleUp, GraphInterrupt, ParentCommand
from threadloom.types import RetryPolicy, Send

__all__ = ["Call", "TaskScript", "retry_wait", "task_script"]

Call = tuple[NodeFunc, Any, bool]
"""``(func, value, offload)``: call ``func`` for the task with ``value`` as its state."""

TaskScript = Generator[Call | float, Any, None]


def task_script(task: Task) -> TaskScript:
    """Run one task; its writes, interrupts or error end up on ``task``, never raised.

    The task is current (for ``interrupt()``, ``get_config()``, LangChain's
    child config) while the script runs, so the executors must perform its
    calls in the context that advances the script.
    """
    run = task.run
    task.config = run.task_config(task)
    node = task.node
    assert node.func is not None
    cached: Any = None
    if node.cache_policy is not None and run.cache is not None:
        cached = cache_key(NODE_NS, node.name, node.cache_policy, task.input)
        hit = lookup(run.cache, cached)
        if hit is not None:  # the node ran on this input before: reuse its writes
            task.writes = [(c, v) for c, v in hit[0]]
            task.result = hit[1]
            run.cached_tasks.add(task.id)
            return
    token = set_task(task)
    lc_token = var_child_runnable_config.set(task.config)
    attempt = 0
    task.first_attempt_time = time.time()
    try:
        while True:
            task.attempt = attempt + 1
            task.subgraph_calls = 0
            try:
                output = yield (node.func, task.input, True)
                branches = run.process_output(task, output)
                _finish(task, (yield from _branches(task, branches, output)) if branches else [])
                if cached is not None:
                    store(run.cache, cached, (task.writes, task.result), node.cache_policy)
                return
            except GraphBubbleUp as exc:
                if isinstance(exc, ParentCommand):
                    raise
                if isinstance(exc, GraphInterrupt):
                    task.interrupts = list(exc.interrupts)
                    task.paused = True
                else:
                    task.error = exc
                return
            except Exception as exc:
                # LangGraph's note on every failed attempt: tracebacks name the task.
                if sys.version_info >= (3, 11):
                    exc.add_note(f"During task with name '{task.name}' and id '{task.id}'")
                attempt += 1
                wait = retry_wait(node.retry_policy, exc, attempt)
                if wait is None:
                    raise
                task.writes = []
                yield wait
                continue
    except ParentCommand as exc:
        # From a graph run inside this task: its command is this task's output.
        try:
            branches = run.process_output(task, exc.command)
            _finish(task, (yield from _branches(task, branches)))
        except Exception as inner:
            task.error = inner
    except Exception as exc:
        if node.error_handler is None:
            task.error = exc
        else:  # the handler node runs next, with the error
            task.writes = [(TASKS, Send(node.error_handler, error_record(node.name, exc)))]
            task.result = None
            run.node_errors[node.name] = exc  # the live exception, for a handler in this run
    finally:
        var_child_runnable_config.reset(lc_token)
        reset_task(token)


def retry_wait(policies: Any, exc: Exception, attempt: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or ``None`` when ``exc`` is final.

    ``policies`` is a retry policy or a sequence of them: the first whose
    ``retry_on`` matches the error decides.
    """
    if policies is None:
        return None
    if isinstance(policies, RetryPolicy):
        policies = (policies,)
    for policy in policies:
        if policy.should_retry(exc):
            return float(policy.interval(attempt)) if attempt < policy.max_attempts else None
    return None


def _branches(
    task: Task, branches: list[Any], output: Any = None
) -> Generator[Call, Any, list[tuple[str, Any]]]:
    """The writes of the conditional edges after the node, each decided on the fresh state.

    Keys of the node's returned dict that the state does not keep still reach an edge
    that reads the whole (dict) state, as in LangGraph: a node can pass its edges extras.
    """
    if not branches:
        return []
    run = task.run
    out: list[tuple[str, Any]] = []
    for branch in branches:
        state = fresh_state(run, task, task.writes, branch)
        if (
            branch.extras
            and type(output) is dict
            and type(state) is dict
            and branch.input_keys is None
        ):
            state = {**output, **state}
        result = yield (branch.path, state, False)
        out.extend(run.resolve_branch(task.name, branch, result))
    return out


def _finish(task: Task, branch_writes: list[tuple[str, Any]]) -> None:
    task.writes.extend(branch_writes)
    handler = task.run.callbacks_handler
    if handler is not None and task.config is not None:
        handler.node_output(task.config["metadata"], task.result, task.input)
