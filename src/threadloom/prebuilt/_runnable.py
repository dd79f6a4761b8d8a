"""The LangChain ``Runnable`` that prebuilt nodes are: a sync and an async body, and the runtime.

A node body is ``fn(input, config, runtime)``. Inside a running graph the
runtime is the run's; called directly (``tool_node.invoke(...)``) it is the
one passed as ``config["configurable"]["__pregel_runtime"]``, or an empty one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.globals import get_debug
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config
from langchain_core.tracers.context import _configure_hooks, _tracing_v2_is_enabled
from langchain_core.utils.env import env_var_is_set

from threadloom.runtime import Runtime, get_runtime

__all__ = ["RUNTIME_KEY", "NodeRunnable", "callbacks_silent", "current_runtime", "injecting"]

RUNTIME_KEY = "__pregel_runtime"

SyncBody = Callable[[Any, RunnableConfig, Any], Any]
AsyncBody = Callable[[Any, RunnableConfig, Any], Awaitable[Any]]


def callbacks_silent(config: RunnableConfig) -> bool:
    """Whether a LangChain run under ``config`` reports to no callback handler at all.

    The same sources LangChain's callback set-up reads: the config's callbacks,
    LangSmith tracing, the global debug flag and the registered context hooks.
    When all are empty, a wrapper run (a ``RunnableSequence``) is invisible, so
    a hot path may call what it wraps directly.
    """
    callbacks = config.get("callbacks")
    if callbacks:
        if not isinstance(callbacks, BaseCallbackManager):
            return False
        if callbacks.handlers or callbacks.inheritable_handlers:
            return False
    if _tracing_v2_is_enabled() or get_debug():
        return False
    for var, _, handler_class, env_var in _configure_hooks:
        if var.get() is not None or (
            env_var is not None and handler_class is not None and env_var_is_set(env_var)
        ):
            return False
    return True


def current_runtime(config: RunnableConfig) -> tuple[Any, bool]:
    """The runtime for a call with ``config``, and whether a graph is running it."""
    given = (config.get("configurable") or {}).get(RUNTIME_KEY)
    try:
        runtime = get_runtime()
    except RuntimeError:
        return (given if given is not None else Runtime()), False
    return (given if given is not None else runtime), True


class NodeRunnable(Runnable[Any, Any]):
    """A named runnable with a sync body and an optional async one."""

    def __init__(self, func: SyncBody | None, afunc: AsyncBody | None, *, name: str) -> None:
        self.func = func
        self.afunc = afunc
        self.name = name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        if self.func is None:
            raise TypeError(f"'{self.name}' runs only asynchronously: use ainvoke() or astream()")
        config = ensure_config(config)
        runtime, _ = current_runtime(config)
        return self.func(input, config, runtime)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        config = ensure_config(config)
        if self.afunc is None:
            import contextvars

            # The sync body in a worker thread, in this context (the running task).
            ctx = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(
                None, ctx.run, self.invoke, input, config
            )
        runtime, _ = current_runtime(config)
        return await self.afunc(input, config, runtime)


_INJECTABLE = ("config", "store", "runtime", "writer")


def _wanted(fn: Callable[..., Any]) -> tuple[str, ...]:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(
        p.name for p in params if p.name in _INJECTABLE and p.kind is not p.POSITIONAL_ONLY
    )


def _injected(wanted: tuple[str, ...], config: RunnableConfig, runtime: Any) -> dict[str, Any]:
    values = {
        "config": config,
        "store": getattr(runtime, "store", None),
        "runtime": runtime,
        "writer": getattr(runtime, "stream_writer", None),
    }
    return {name: values[name] for name in wanted}


def injecting(
    fn: Callable[..., Any] | None, afn: Callable[..., Awaitable[Any]] | None, *, name: str
) -> NodeRunnable:
    """A runnable calling ``fn(input)`` (or ``afn``) with ``config``/``store``/``runtime``/``writer``
    passed by name, as graph nodes get them."""
    sync_wanted = _wanted(fn) if fn is not None else ()
    async_wanted = _wanted(afn) if afn is not None else ()

    # A function may return a runnable (e.g. a prompt template): it runs on the same input.
    def body(input: Any, config: RunnableConfig, runtime: Any) -> Any:
        assert fn is not None  # NodeRunnable only calls the sync body when there is one
        out = fn(input, **_injected(sync_wanted, config, runtime))
        return out.invoke(input, config) if isinstance(out, Runnable) else out

    async def abody(input: Any, config: RunnableConfig, runtime: Any) -> Any:
        assert afn is not None
        out = await afn(input, **_injected(async_wanted, config, runtime))
        return await out.ainvoke(input, config) if isinstance(out, Runnable) else out

    return NodeRunnable(
        body if fn is not None else None, abody if afn is not None else None, name=name
    )
