"""LangChain callbacks for a run: the graph is one chain run, each node a chain run inside it.

A callback handler (LangSmith's tracer, ``astream_events``, a user's handler)
then sees the same tree as on LangGraph: the graph's run, under it one run
per task named after its node (tagged ``graph:step:N``), and under that
whatever the node calls (a chat model, a tool, a subgraph's own graph run).
Nothing here runs unless the caller passed callbacks or LangSmith tracing
is on, so an untraced ``invoke`` pays one check.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import (
    get_async_callback_manager_for_config,
    get_callback_manager_for_config,
)
from langchain_core.tracers.context import _tracing_v2_is_enabled

try:
    from langchain_core.tracers._streaming import _StreamingCallbackHandler
except ImportError:  # pragma: no cover - older langchain_core
    _StreamingCallbackHandler = None  # type: ignore[assignment,misc]

from threadloom._engine._options import address_metadata
from threadloom.channels.base import MISSING
from threadloom.errors import GraphInterrupt

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._run import Run

T = TypeVar("T")

__all__ = [
    "aend_call",
    "aend_node",
    "astart_call",
    "astart_node",
    "atraced",
    "end_call",
    "end_node",
    "start_call",
    "start_node",
    "traced",
    "wants_trace",
]


def wants_trace(config: Any) -> bool:
    """Whether a root run reports to callbacks: the caller passed some, or LangSmith tracing is on."""
    callbacks = config.get("callbacks") if config else None
    if isinstance(callbacks, BaseCallbackManager):
        if callbacks.handlers:
            return True
    elif callbacks:
        return True
    return bool(_tracing_v2_is_enabled())


def _graph_config(run: Run) -> dict[str, Any]:
    config = dict(run.config)
    if run.callbacks is not None:  # the caller's callbacks plus the messages handler
        config["callbacks"] = run.callbacks
    return config


def _graph_start_args(run: Run, value: Any) -> tuple[Any, dict[str, Any]]:
    config = run.config
    name = config.get("run_name") or run.graph.name
    return value, {"name": name, "run_id": config.get("run_id")}


def _graph_metadata(run: Run, manager: Any) -> None:
    """The graph run's metadata as LangGraph's: the run's address (``thread_id``...) and
    ``ls_integration``, which the runs under it inherit."""
    config = run.config
    metadata = address_metadata(config.get("metadata"), config.get("configurable") or {})
    if "ls_integration" not in manager.metadata:
        metadata.setdefault("ls_integration", "langgraph")
    manager.add_metadata(metadata)


def traced(run: Run, value: Any, events: Iterator[T]) -> Iterator[T]:
    """``events``, inside the graph's chain run (closed with the output, or the error)."""
    manager = get_callback_manager_for_config(_graph_config(run))  # type: ignore[arg-type]
    _graph_metadata(run, manager)
    inputs, kwargs = _graph_start_args(run, value)
    graph_run = manager.on_chain_start(None, inputs, **kwargs)
    run.trace = graph_run
    try:
        yield from events
    except BaseException as exc:
        graph_run.on_chain_error(exc)
        raise
    graph_run.on_chain_end(_graph_output(run))


async def atraced(
    run: Run, value: Any, events: AsyncGenerator[T, None]
) -> AsyncGenerator[T, None]:
    """Async twin of :func:`traced`."""
    manager = get_async_callback_manager_for_config(_graph_config(run))  # type: ignore[arg-type]
    _graph_metadata(run, manager)
    inputs, kwargs = _graph_start_args(run, value)
    graph_run = await manager.on_chain_start(None, inputs, **kwargs)
    run.trace = graph_run
    try:
        async with aclosing(events):
            async for event in events:
                yield event
    except BaseException as exc:
        await graph_run.on_chain_error(exc)
        raise
    await graph_run.on_chain_end(_graph_output(run))


def _graph_output(run: Run) -> Any:
    # The output state, as LangGraph reports it: without the interrupts invoke adds.
    try:
        return run.output()
    except Exception:  # a run that ended without an output state (e.g. a subgraph's command)
        return None


def _node_outcome(task: Task) -> tuple[BaseException | None, Any]:
    if task.error is not None:
        return task.error, None
    if task.paused:
        return GraphInterrupt(task.interrupts), None
    if task.result is not MISSING:
        return None, task.result
    return None, dict(task.writes)


def _node_config(task: Task) -> Any:
    config = task.config
    assert config is not None  # set by the task script before its first call
    step = config["metadata"]["langgraph_step"]
    config["callbacks"] = task.run.trace.get_child(f"graph:step:{step}")
    config.pop("run_name", None)  # names the node's run, not what the node calls
    return config


def _node_input(task: Task) -> Any:
    shown = task.run.spec.traced_input
    return task.input if shown is None else shown(task.input)


def start_node(task: Task) -> Any:
    """Open the chain run of ``task``'s node; what the node calls nests under it."""
    config = _node_config(task)
    manager = get_callback_manager_for_config(config)
    node_run = manager.on_chain_start(None, _node_input(task), name=task.name)
    config["callbacks"] = node_run.get_child()
    return node_run


async def astart_node(task: Task) -> Any:
    """Async twin of :func:`start_node`."""
    config = _node_config(task)
    manager = get_async_callback_manager_for_config(config)
    node_run = await manager.on_chain_start(None, _node_input(task), name=task.name)
    config["callbacks"] = node_run.get_child()
    return node_run


def _stream_handlers(chain_run: Any) -> list[Any]:
    """The handlers that want a run's streamed output (``astream_events``, ``astream_log``)."""
    if _StreamingCallbackHandler is None:  # pragma: no cover - older langchain_core
        return []
    return [h for h in chain_run.handlers if _StreamingCallbackHandler in type(h).__mro__]


def _tap(chain_run: Any, output: Any) -> None:
    """Report ``output`` as the run's one streamed chunk (``on_chain_stream``), as LangGraph's
    nodes and tasks, which run as streams when such a handler listens."""
    for handler in _stream_handlers(chain_run):
        for _ in handler.tap_output_iter(chain_run.run_id, iter((output,))):
            pass


async def _one(value: Any) -> AsyncIterator[Any]:
    yield value


async def _atap(chain_run: Any, output: Any) -> None:
    """Async twin of :func:`_tap`."""
    for handler in _stream_handlers(chain_run):
        async for _ in handler.tap_output_aiter(chain_run.run_id, _one(output)):
            pass


def end_node(node_run: Any, task: Task) -> None:
    """Close the node's chain run with its output, or with its error or interrupt."""
    error, output = _node_outcome(task)
    if error is None:
        _tap(node_run, output)
        node_run.on_chain_end(output)
    else:
        node_run.on_chain_error(error)


async def aend_node(node_run: Any, task: Task) -> None:
    """Async twin of :func:`end_node`."""
    error, output = _node_outcome(task)
    if error is None:
        await _atap(node_run, output)
        await node_run.on_chain_end(output)
    else:
        await node_run.on_chain_error(error)


_CALL_TAG = "seq:step:1"
"""The tag of a ``@task`` call's run (LangGraph runs the call as the first step of a sequence)."""


def _call_inputs(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A task call's inputs as a run shows them: its arguments by parameter name, defaults too."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {"args": list(args), **kwargs}
    bound.apply_defaults()
    return dict(bound.arguments)


def _caller_config(child: Task) -> RunnableConfig:
    config = child.config
    assert config is not None  # the calling task's, set before it ran
    return config


def _nest_under(child: Task, call_run: Any) -> None:
    """What the call does from now on reports under ``call_run``."""
    config = _caller_config(child).copy()
    config["callbacks"] = call_run.get_child()
    child.config = config


def start_call(
    child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Open the chain run of a ``@task`` call, under the run of the task that called it;
    what the call does nests under it (``child.config`` becomes the call's own)."""
    manager = get_callback_manager_for_config(_caller_config(child))
    manager.add_tags([_CALL_TAG], inherit=False)
    call_run = manager.on_chain_start(None, _call_inputs(fn, args, kwargs), name=child.name)
    _nest_under(child, call_run)
    return call_run


async def astart_call(
    child: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Async twin of :func:`start_call`."""
    manager = get_async_callback_manager_for_config(_caller_config(child))
    manager.add_tags([_CALL_TAG], inherit=False)
    call_run = await manager.on_chain_start(None, _call_inputs(fn, args, kwargs), name=child.name)
    _nest_under(child, call_run)
    return call_run


def end_call(call_run: Any, error: BaseException | None, value: Any = None) -> None:
    """Close a ``@task`` call's run with its value, or with its error or interrupt."""
    if error is None:
        _tap(call_run, value)
        call_run.on_chain_end(value)
    else:
        call_run.on_chain_error(error)


async def aend_call(call_run: Any, error: BaseException | None, value: Any = None) -> None:
    """Async twin of :func:`end_call`."""
    if error is None:
        await _atap(call_run, value)
        await call_run.on_chain_end(value)
    else:
        await call_run.on_chain_error(error)
