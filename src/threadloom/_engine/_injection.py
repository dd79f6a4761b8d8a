"""Calling user functions: which arguments a node asks for, decided once per function.

A node receives the state as its first positional argument and, by
parameter name, ``config`` (the run's ``RunnableConfig``), ``store`` (the
compiled store), ``runtime`` (:class:`~threadloom.runtime.Runtime`) and
``writer`` (the ``custom`` stream writer).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from threadloom.errors import GraphBuildError, StoreNotConfiguredError

if TYPE_CHECKING:
    from threadloom._engine._context import Task

__all__ = ["INJECTABLE", "NodeFunc", "cancellable"]

INJECTABLE = ("config", "store", "runtime", "writer")


class NodeFunc:
    """A node (or branch path) function with its injection plan.

    Handles plain and async functions, callable objects, LangChain runnables
    and compiled graphs (which are runnables here too).
    """

    __slots__ = (
        "afn",
        "fn",
        "inject",
        "is_async_only",
        "is_runnable",
        "label",
        "store_required",
        "takes_state",
    )

    def __init__(self, fn: Any, label: str) -> None:
        self.fn = fn
        self.label = label
        self.afn: Callable[..., Any] | None = None
        self.inject: tuple[str, ...] = ()
        self.takes_state = True
        self.store_required = False
        self.is_runnable = False
        self.is_async_only = False
        if isinstance(fn, dict):  # a dict of runnables runs them in parallel, as in LangGraph
            from langchain_core.runnables import RunnableParallel

            fn = self.fn = RunnableParallel(fn)
        if _is_runnable(fn):
            self.is_runnable = True
            self.afn = fn.ainvoke
            return
        if not callable(fn):
            raise GraphBuildError(f"{label} must be callable, got {fn!r}")
        target = fn
        if isinstance(fn, functools.partial):
            target = fn.func
        elif not inspect.isfunction(fn) and not inspect.ismethod(fn) and callable(fn):
            target = fn.__call__
        if inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(fn):
            self.afn = fn
            self.is_async_only = True
        self._plan(fn)

    def _plan(self, fn: Any) -> None:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            return
        positional = [
            p
            for p in params
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in INJECTABLE
        ]
        self.takes_state = bool(positional) or any(p.kind is p.VAR_POSITIONAL for p in params)
        inject = []
        for p in params:
            if p.name in INJECTABLE and p.kind is not p.POSITIONAL_ONLY:
                inject.append(p.name)
                if p.name == "store" and p.default is p.empty:
                    self.store_required = True
        self.inject = tuple(inject)

    def _kwargs(self, task: Task) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        run = task.run
        for name in self.inject:
            if name == "config":
                kwargs["config"] = task.config
            elif name == "store":
                if run.store is None and self.store_required:
                    raise StoreNotConfiguredError(
                        f"{self.label} asks for `store`, but the graph was compiled without one: "
                        "pass store=... to compile()"
                    )
                kwargs["store"] = run.store
            elif name == "runtime":
                kwargs["runtime"] = run.task_runtime(task)
            else:
                kwargs["writer"] = run.writer
        return kwargs

    def call(self, task: Task, value: Any) -> Any:
        """Call synchronously with ``value`` as the state argument."""
        if self.is_runnable:
            return self.fn.invoke(value, task.config)
        if self.is_async_only:
            raise TypeError(
                f"{self.label} is an async function; run the graph with ainvoke() or astream()"
            )
        if self.inject:
            kwargs = self._kwargs(task)
            return self.fn(value, **kwargs) if self.takes_state else self.fn(**kwargs)
        return self.fn(value) if self.takes_state else self.fn()

    async def acall(self, task: Task, value: Any) -> Any:
        """Call asynchronously; a sync function runs in a worker thread."""
        if self.is_runnable:
            return await self.fn.ainvoke(value, task.config)
        if self.afn is None:
            import contextvars

            loop = asyncio.get_running_loop()
            ctx = contextvars.copy_context()
            return await loop.run_in_executor(None, ctx.run, self.call, task, value)
        kwargs = self._kwargs(task) if self.inject else {}
        if self.takes_state:
            return await self.afn(value, **kwargs)
        return await self.afn(**kwargs)


def cancellable(func: NodeFunc) -> bool:
    """Whether a node can be cancelled at a timeout: an async function, or a runnable whose
    every part has an async body (a ``RunnableLambda`` of a sync function has none; a
    binding, sequence or parallel of runnables is as cancellable as its parts)."""
    if func.is_async_only:
        return True
    return func.is_runnable and _async_body(func.fn)


def _async_body(runnable: Any) -> bool:
    from langchain_core.runnables import (
        RunnableBinding,
        RunnableLambda,
        RunnableParallel,
        RunnableSequence,
    )

    if isinstance(runnable, RunnableLambda):
        return getattr(runnable, "afunc", None) is not None
    if isinstance(runnable, RunnableBinding):
        return _async_body(runnable.bound)
    if isinstance(runnable, RunnableSequence):
        return all(_async_body(step) for step in runnable.steps)
    if isinstance(runnable, RunnableParallel):
        return all(_async_body(step) for step in runnable.steps__.values())
    return True


def _is_runnable(fn: Any) -> bool:
    try:
        from langchain_core.runnables import Runnable
    except ImportError:  # pragma: no cover - langchain-core is a dependency
        return False
    if isinstance(fn, Runnable):
        return True
    # Compiled graphs expose invoke/ainvoke without being LangChain runnables.
    from threadloom._engine._pregel import CompiledGraph

    return isinstance(fn, CompiledGraph)
