"""``@entrypoint``: a function that runs as a one-node graph with a checkpointer and a store."""

from __future__ import annotations

import inspect
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from langchain_core.runnables.graph import Graph

from threadloom._engine._constants import END, START, TASKS
from threadloom._engine._context import Task, current_scope
from threadloom._engine._injection import NodeFunc
from threadloom._engine._pregel import CompiledGraph
from threadloom._engine._results import NodeReturn
from threadloom._engine._spec import GraphSpec, NodeSpec
from threadloom.channels.ephemeral import EphemeralValue
from threadloom.channels.last_value import LastValue
from threadloom.channels.topic import Topic
from threadloom.errors import GraphBuildError
from threadloom.types import TimeoutPolicy
from threadloom.warnings import LangGraphDeprecatedSinceV05 as V05
from threadloom.warnings import LangGraphDeprecatedSinceV10 as V10
from threadloom.warnings import LangGraphDeprecationWarning

__all__ = ["entrypoint"]

PREVIOUS = "__previous__"
"""Channel that keeps what the workflow saved on its thread's last run."""

_INJECTABLE = frozenset({"config", "store", "runtime", "writer", "previous"})

R = TypeVar("R")
S = TypeVar("S")


class entrypoint:
    """Turn a function into a workflow: ``@entrypoint(checkpointer=...)`` over ``def f(input)``.

    The decorated name is a compiled graph (``invoke``, ``stream``, ``get_state``,
    and the async twins). The function takes one input argument and may ask,
    by name, for ``previous`` (what the thread's last run returned or saved),
    ``config``, ``store``, ``writer`` and ``runtime``. Return a value, or
    ``entrypoint.final(value=..., save=...)`` to return one value and keep another
    as the next run's ``previous``.
    """

    @dataclass(frozen=True)
    class final(Generic[R, S]):
        """Return ``value`` to the caller and save ``save`` as the next run's ``previous``."""

        value: R
        save: S

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        context_schema: Any = None,
        cache_policy: Any = None,
        retry_policy: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        # Older spellings of the same arguments, with LangGraph's deprecation warnings.
        old_context = _renamed(kwargs, "config_schema", "context_schema", V10)
        old_retry = _renamed(kwargs, "retry", "retry_policy", V05)
        context_schema = context_schema if context_schema is not None else old_context
        retry_policy = retry_policy if retry_policy is not None else old_retry
        if kwargs:
            raise TypeError(f"entrypoint() got unexpected arguments {sorted(kwargs)}")
        self.checkpointer = checkpointer
        self.store = store
        self.cache = cache
        self.context_schema = context_schema
        self.cache_policy = cache_policy
        self.retry_policy = retry_policy
        self.timeout = TimeoutPolicy.coerce(timeout)

    def __call__(self, func: Callable[..., Any]) -> CompiledGraph:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise NotImplementedError("an entrypoint cannot be a generator function")
        name = getattr(func, "__name__", None) or type(func).__name__
        workflow = _Workflow(func, name)
        if self.timeout is not None and not workflow.is_async:
            raise GraphBuildError(
                f"entrypoint '{name}' has a timeout, which is only supported for async nodes "
                "(a sync function cannot be cancelled)"
            )
        node = NodeSpec(
            name=name,
            func=NodeFunc(
                workflow.acall if workflow.is_async else workflow.call, f"entrypoint '{name}'"
            ),
            triggers=(START,),  # the input itself, as LangGraph's entrypoint node
            input_keys=(START, PREVIOUS),
            retry_policy=self.retry_policy,
            timeout=self.timeout,
            cache_policy=self.cache_policy,
        )
        spec = GraphSpec(
            channels={
                START: EphemeralValue(key=START),
                END: LastValue(key=END),
                PREVIOUS: LastValue(key=PREVIOUS),
                TASKS: Topic(key=TASKS),
            },
            state_keys=(END,),
            input_keys=(START,),
            output_keys=END,
            nodes={name: node},
            start=NodeSpec(name=START, func=None),
            writable_keys=frozenset({END, PREVIOUS}),
            input_coerce=_as_input,
            update_coerce=_returned,
            streams_live=True,
            traced_input=_traced_input,
            result_keys=frozenset({END}),
            name=name,
        )
        graph = _WorkflowGraph(
            spec, checkpointer=self.checkpointer, store=self.store, name="LangGraph"
        )
        graph.input_type, graph.output_type = _io_types(func)
        graph.context_schema = self.context_schema
        graph.cache = self.cache
        return graph


def _renamed(
    kwargs: dict[str, Any], old: str, new: str, category: type[LangGraphDeprecationWarning]
) -> Any:
    """Pop the old spelling ``old`` from ``kwargs`` (``None`` if absent), warning that it is ``new`` now."""
    if old not in kwargs:
        return None
    warnings.warn(
        f"`{old}` is deprecated and will be removed. Please use `{new}` instead.",
        category,
        stacklevel=3,
    )
    return kwargs.pop(old)


class _WorkflowGraph(CompiledGraph):
    """The graph an ``@entrypoint`` compiles to: one node, drawn as LangGraph draws it."""

    def get_graph(self, config: Any = None, *, xray: int | bool = False) -> Graph:
        """``__start__ --> name``, then a dotted edge to ``__end__`` (``draw_mermaid()`` renders it)."""
        graph = Graph()
        start = graph.add_node(None, START)
        node = graph.add_node(None, self.spec.name)
        graph.add_edge(start, node)
        graph.add_edge(node, graph.add_node(None, END), conditional=True)
        return graph



def _io_types(func: Callable[..., Any]) -> tuple[Any, Any]:
    """The annotated input and output types (``entrypoint.final[R, S]`` returns ``R``)."""
    try:
        first = next(iter(inspect.signature(func).parameters))
    except (TypeError, ValueError, StopIteration):
        return None, None
    try:
        hints = typing.get_type_hints(func)
    except NameError:  # an annotation naming something not importable here
        return None, None
    # A TypeError (e.g. ``entrypoint.final[int]``, one type argument short) propagates.
    output = hints.get("return")
    if output is entrypoint.final:
        output = None
    elif typing.get_origin(output) is entrypoint.final:
        output = typing.get_args(output)[0]
    return hints.get(first), output


def _as_input(value: Any) -> dict[str, Any]:
    return {START: value}


def _traced_input(value: Any) -> Any:
    """What the entrypoint node's run shows as its input: the workflow's input alone."""
    return value.get(START) if isinstance(value, dict) else value


class _Workflow:
    """Calls the user's function with its input and the arguments it asks for by name."""

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        self.func = func
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__ if not inspect.isfunction(func) else None
        )
        try:
            params = list(inspect.signature(func).parameters.values())
        except (TypeError, ValueError):
            params = []
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if not positional or positional[0].name in _INJECTABLE:
            raise GraphBuildError(
                f"entrypoint '{name}' must take its input as the first positional parameter"
            )
        self.inject = tuple(p.name for p in params[1:] if p.name in _INJECTABLE)

    def _kwargs(self, state: dict[str, Any]) -> dict[str, Any]:
        if not self.inject:
            return {}
        task: Task = current_scope("entrypoint")
        run = task.run
        values = {
            "config": lambda: task.config,
            "store": lambda: run.store,
            "runtime": lambda: run.task_runtime(task).override(previous=state.get(PREVIOUS)),
            "writer": lambda: run.writer,
            "previous": lambda: state.get(PREVIOUS),
        }
        return {name: values[name]() for name in self.inject}

    def call(self, state: dict[str, Any]) -> NodeReturn:
        return _returned(self.func(state.get(START), **self._kwargs(state)))

    async def acall(self, state: dict[str, Any]) -> NodeReturn:
        return _returned(await self.func(state.get(START), **self._kwargs(state)))


def _returned(value: Any) -> NodeReturn:
    if isinstance(value, entrypoint.final):
        return NodeReturn([(END, value.value), (PREVIOUS, value.save)], value.value)
    return NodeReturn([(END, value), (PREVIOUS, value)], value)
