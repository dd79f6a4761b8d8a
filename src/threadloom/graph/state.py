"""The graph builder: nodes, edges and branches over a typed state.

Example::

    from typing import Annotated
    import operator
    from typing_extensions import TypedDict
    from threadloom.graph import StateGraph, START, END

    class State(TypedDict):
        steps: Annotated[list[str], operator.add]

    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"steps": ["a"]})
    builder.add_node("b", lambda s: {"steps": ["b"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    assert builder.compile().invoke({"steps": []}) == {"steps": ["a", "b"]}
"""

from __future__ import annotations

import logging
import typing
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadloom._engine._constants import (
    END,
    RESERVED,
    ROOT,
    START,
    TASKS,
    branch_channel,
    join_channel,
)
from threadloom._engine._handlers import ErrorHandler
from threadloom._engine._injection import NodeFunc, cancellable
from threadloom._engine._pregel import CompiledGraph
from threadloom._engine._spec import BranchSpec, GraphSpec, NodeSpec
from threadloom._engine._subgraphs import find_subgraph
from threadloom.channels.barrier import NamedBarrierValue
from threadloom.channels.base import BaseChannel
from threadloom.channels.ephemeral import EphemeralValue
from threadloom.channels.topic import Topic
from threadloom.channels.trigger import Trigger
from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.errors import GraphBuildError, InvalidCheckpointerError
from threadloom.graph._callable import node_runnable
from threadloom.graph._schema import (
    channels_of,
    field_channel,
    is_schema,
    managed_of,
    object_to_dict,
    root_channel,
    root_field,
    same_channel,
    state_coercer,
)
from threadloom.graph._untracked import SendTopic, untracked_keys
from threadloom.types import RetryPolicy, TimeoutPolicy
from threadloom.warnings import LangGraphDeprecatedSinceV05 as V05
from threadloom.warnings import LangGraphDeprecatedSinceV10 as V10

__all__ = ["CompiledStateGraph", "StateGraph"]

logger = logging.getLogger(__name__)


@dataclass
class _NodeDef:
    name: str
    action: Any
    input_schema: Any = None
    retry_policy: Any = None
    defer: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    cache_policy: Any = None
    timeout: TimeoutPolicy | None = None
    destinations: Any = None
    error_handler: str | None = None
    """The name of this node's own handler node."""
    is_handler: bool = False

    @property
    def runnable(self) -> Any:
        """The node as a runnable (LangGraph's name for it): a runnable node as it is; a
        function as a runnable whose ``func`` (or, async, ``afunc``) is that function."""
        return node_runnable(self.action, self.name)


@dataclass
class _BranchDef:
    path: Any
    path_map: dict[Hashable, str] | None
    input_schema: Any = None
    extras: bool = True


class StateGraph:
    """A graph whose nodes read a shared state and return updates to it.

    ``state_schema`` is a TypedDict, dataclass or pydantic model; a key
    declared ``Annotated[T, reducer]`` combines writes with ``reducer``
    (``add_messages`` for chat messages), any other key keeps the last value.
    ``input_schema`` and ``output_schema`` narrow what ``invoke`` accepts and
    returns; ``context_schema`` types the run context handed to nodes via
    ``runtime.context``.
    """

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        **kwargs: Any,
    ) -> None:
        # Older spellings of the same arguments, with LangGraph's deprecation warnings.
        if "config_schema" in kwargs:
            config_schema = _deprecated(kwargs, "config_schema", "context_schema", V10)
            context_schema = context_schema if context_schema is not None else config_schema
        if "input" in kwargs:
            old_input = _deprecated(kwargs, "input", "input_schema", V05)
            input_schema = input_schema if input_schema is not None else old_input
        if "output" in kwargs:
            old_output = _deprecated(kwargs, "output", "output_schema", V05)
            output_schema = output_schema if output_schema is not None else old_output
        if kwargs:
            raise TypeError(f"StateGraph() got unexpected arguments {sorted(kwargs)}")
        _warn_invalid_state_schema(state_schema)
        self.state_schema = state_schema
        self.context_schema = context_schema
        self.input_schema = input_schema if input_schema is not None else state_schema
        self.output_schema = output_schema if output_schema is not None else state_schema
        # A state that is one value (list[str], Annotated[list, add]) lives in one channel.
        self.root = not is_schema(state_schema) and _is_root_type(state_schema)
        root_hint = None if self.root else root_field(state_schema)
        if root_hint is not None:
            self.root = True  # a TypedDict whose one key is "__root__" holds one value
        if self.root:
            self.channels: dict[str, BaseChannel] = {
                ROOT: root_channel(ROOT, state_schema if root_hint is None else root_hint)
            }
            self.state_keys: tuple[str, ...] = (ROOT,)
            self.input_keys: tuple[str, ...] = (ROOT,)
            self.output_keys: tuple[str, ...] = (ROOT,)
        else:
            self.channels = dict(channels_of(state_schema))
            self.state_keys = tuple(self.channels)
            for schema in (self.input_schema, self.output_schema):
                if schema is not state_schema and managed_of(schema):
                    raise GraphBuildError(
                        f"Invalid managed channels detected in {getattr(schema, '__name__', '')}: "
                        f"{', '.join(managed_of(schema))}. Managed channels are not permitted "
                        "in Input/Output schema."
                    )
                self._add_schema(schema)
            self.input_keys = tuple(channels_of(self.input_schema))
            self.output_keys = tuple(channels_of(self.output_schema))
        self.managed: dict[str, type] = managed_of(state_schema)
        self.nodes: dict[str, _NodeDef] = {}
        self.edges: list[tuple[str, str]] = []
        self.waiting_edges: list[tuple[tuple[str, ...], str]] = []
        self.branches: dict[str, list[_BranchDef]] = {}
        self.node_defaults: dict[str, Any] = {}
        self.compiled = False

    def _add_schema(self, schema: Any) -> None:
        _warn_invalid_state_schema(schema)
        for key, channel in channels_of(schema).items():
            known = self.channels.get(key)
            if known is None:
                self.channels[key] = channel
            elif not same_channel(known, channel):
                # A plain key in another schema reads the same value; another reducer would not.
                raise GraphBuildError(
                    f"Channel '{key}' already exists with a different type "
                    f"({type(known).__name__} in the state, {type(channel).__name__} in "
                    f"{getattr(schema, '__name__', schema)})"
                )

    # --- nodes --------------------------------------------------------------

    def add_node(
        self,
        node: str | Any,
        action: Any = None,
        *,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        input_schema: Any = None,
        retry_policy: Any = None,
        cache_policy: Any = None,
        destinations: Any = None,
        timeout: Any = None,
        error_handler: Any = None,
        trace_policy: Any = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Add a node: ``add_node(fn)`` (named after the function) or ``add_node(name, fn)``.

        ``retry_policy`` (or its older name ``retry``) retries a failing node;
        ``timeout`` (a :class:`~threadloom.types.TimeoutPolicy` or seconds) limits
        each attempt of an async node; ``cache_policy`` caches its results when the
        graph is compiled with a cache; ``defer=True`` delays the node until every
        other pending node has run; ``destinations`` names where a node that
        returns ``Command(goto=...)`` may go (for drawing); ``trace_policy`` is
        accepted for LangGraph compatibility (nodes are traced as any runnable). Returns
        the builder.
        """
        if "input" in kwargs:
            old_input = _deprecated(kwargs, "input", "input_schema", V05, stacklevel=3)
            input_schema = input_schema if input_schema is not None else old_input
        if "retry" in kwargs:
            retry = _deprecated(kwargs, "retry", "retry_policy", V05, stacklevel=3)
            retry_policy = retry_policy if retry_policy is not None else retry
        if kwargs:
            raise TypeError(f"add_node() got unexpected arguments {sorted(kwargs)}")
        if isinstance(node, str):
            name = node
            if action is None:
                raise GraphBuildError(f"add_node('{name}') needs a function or runnable as well")
        else:
            if action is not None:
                raise GraphBuildError(
                    "add_node(fn) takes the function alone, or add_node(name, fn)"
                )
            action = node
            name = _name_of(node)
        if self.compiled:
            logger.warning(
                "Adding a node to a graph that has already been compiled. This will "
                "not be reflected in the compiled graph."
            )
        self._check_name(name)
        retry_policy = _check_retry(name, retry_policy)
        if input_schema is None:
            input_schema = _inferred_input_schema(action, self.state_schema)
        if input_schema is not None:
            self._add_schema(input_schema)
        self.nodes[name] = _NodeDef(
            name,
            action,
            input_schema,
            retry_policy,
            bool(defer),
            dict(metadata or {}),
            cache_policy,
            TimeoutPolicy.coerce(timeout),
            destinations,
        )
        if error_handler is not None:
            handler = f"__error_handler__{name}"
            self.nodes[name].error_handler = handler
            self.nodes[handler] = _handler_def(handler, error_handler)
        return self

    def set_node_defaults(
        self,
        *,
        retry_policy: Any = None,
        cache_policy: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Policies for every node that does not set its own in ``add_node`` (applied at compile).

        Returns the builder. Subgraphs do not inherit them.
        """
        error_handler = kwargs.pop("error_handler", None)
        if kwargs:
            raise TypeError(f"set_node_defaults() got unexpected arguments {sorted(kwargs)}")
        self.node_defaults = {
            "retry_policy": _check_retry("(defaults)", retry_policy),
            "cache_policy": cache_policy,
            "timeout": TimeoutPolicy.coerce(timeout),
            "error_handler": error_handler,
        }
        return self

    def _check_name(self, name: Any) -> None:
        # The first sentence of each message is LangGraph's, which users search for.
        if not isinstance(name, str) or not name:
            raise GraphBuildError(f"a node name must be a non-empty string, got {name!r}")
        if name in RESERVED:
            raise GraphBuildError(
                f"Node `{name}` is reserved. ('{name}' cannot be used as a node name)"
            )
        for char in ("|", ":"):
            if char in name:
                raise GraphBuildError(
                    f"'{char}' is a reserved character and is not allowed in the node names. "
                    f"(node '{name}')"
                )
        if name in self.nodes:
            raise GraphBuildError(f"Node `{name}` already present.")

    def add_sequence(self, nodes: Sequence[Any]) -> StateGraph:
        """Add nodes (functions or ``(name, fn)`` pairs) joined by edges, in order."""
        if not nodes:
            raise GraphBuildError("Sequence requires at least one node.")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple) and len(item) == 2:
                name, action = item
            else:
                name, action = _name_of(item), item
            if name in self.nodes:
                raise GraphBuildError(
                    f"Node names must be unique: node with the name '{name}' already exists. "
                    "If you need to use two different runnables/callables with the same name "
                    "(for example, using `lambda`), please provide them as tuples "
                    "(name, runnable/callable)."
                )
            self.add_node(name, action)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    # --- edges --------------------------------------------------------------

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` after ``start_key``; with a list of sources, after all of them."""
        if end_key == START:
            raise GraphBuildError("START cannot be an end node")
        if isinstance(start_key, str):
            if start_key == END:
                raise GraphBuildError("END cannot be a start node")
            self.edges.append((start_key, end_key))
            return self
        sources = tuple(start_key)
        if not sources:
            raise GraphBuildError(f"add_edge() to '{end_key}' needs at least one source")
        for source in sources:
            if source == END:
                raise GraphBuildError("END cannot be a start node")
        if len(sources) == 1:
            self.edges.append((sources[0], end_key))
        else:
            self.waiting_edges.append((sources, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any] | Any,
        path_map: dict[Hashable, str] | list[str] | None = None,
    ) -> StateGraph:
        """After ``source``, run what ``path(state)`` returns.

        ``path`` returns a node name, a list of names, ``END``, or ``Send``
        packets; ``path_map`` translates its return values into node names.
        """
        if source == END:
            raise GraphBuildError("END cannot be the start of a conditional edge")
        if not callable(path):
            raise GraphBuildError(
                f"the path of a conditional edge from '{source}' must be callable"
            )
        mapping: dict[Hashable, str] | None
        if path_map is None:
            mapping = _literal_map(path)
        elif isinstance(path_map, dict):
            mapping = dict(path_map)
        else:
            mapping = {name: name for name in path_map}
        # A path function annotated with another schema reads that schema's keys.
        input_schema = _inferred_input_schema(path, self.state_schema)
        if input_schema is not None:
            self._add_schema(input_schema)
        # A path typed with a state schema reads that schema; an untyped (or dict) one also
        # sees the keys its node returned that the state does not keep, as in LangGraph.
        extras = not is_schema(_first_param_hint(path))
        self.branches.setdefault(source, []).append(
            _BranchDef(path, mapping, input_schema, extras)
        )
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        """Make ``key`` the first node (same as ``add_edge(START, key)``)."""
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: dict[Hashable, str] | list[str] | None = None
    ) -> StateGraph:
        """Choose the first node with ``path`` (same as ``add_conditional_edges(START, ...)``)."""
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        """End the run after ``key`` (same as ``add_edge(key, END)``)."""
        return self.add_edge(key, END)

    # --- compile ------------------------------------------------------------

    def validate(self, interrupt: Sequence[str] = ()) -> StateGraph:
        """Check every edge, branch and interrupt name; raise :class:`GraphBuildError` naming the culprit."""
        nodes = self.nodes
        sources = {s for s, _ in self.edges} | {s for ss, _ in self.waiting_edges for s in ss}
        sources |= set(self.branches)
        for source in sorted(sources):
            if source != START and source not in nodes:
                raise GraphBuildError(f"Found edge starting at unknown node '{source}'")
        if START not in sources:
            raise GraphBuildError(
                "Graph must have an entrypoint: add at least one edge from START to another "
                "node (builder.add_edge(START, 'first_node'))"
            )
        for source, target in self.edges:
            if target != END and target not in nodes:
                raise GraphBuildError(
                    f"Found edge ending at unknown node `{target}` (the edge '{source}' -> '{target}')"
                )
        for _, target in self.waiting_edges:
            if target != END and target not in nodes:
                raise GraphBuildError(f"Found edge ending at unknown node `{target}`")
        for source, branches in self.branches.items():
            for branch in branches:
                for target in (branch.path_map or {}).values():
                    if target != END and target is not None and target not in nodes:
                        cond = getattr(branch.path, "__name__", None) or "condition"
                        raise GraphBuildError(
                            f"At '{source}' node, '{cond}' branch found unknown target '{target}'"
                        )
        for name in interrupt:
            if name != "*" and name not in nodes:
                raise GraphBuildError(f"Interrupt node `{name}` not found")
        self.compiled = True
        return self

    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: Any = None,
        store: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        debug: bool = False,
        name: str | None = None,
    ) -> CompiledStateGraph:
        """Validate the graph and make it runnable.

        ``checkpointer`` keeps each thread's state between calls; ``store`` is
        handed to nodes that ask for it; ``interrupt_before``/``interrupt_after``
        pause the run around the named nodes (``"*"`` for all).
        """
        _check_checkpointer(checkpointer)
        before = _as_names(interrupt_before)
        after = _as_names(interrupt_after)
        self.validate([*before, *after])
        spec = self._spec(before, after, name)
        graph = CompiledStateGraph(
            spec, checkpointer=checkpointer, store=store, name=name, builder=self
        )
        graph.cache = cache
        graph.input_type = self.input_schema
        graph.output_type = self.output_schema
        graph.context_schema = self.context_schema
        return graph

    def _spec(self, before: list[str], after: list[str], name: str | None) -> GraphSpec:
        defs = dict(self.nodes)
        default_handler = self.node_defaults.get("error_handler")
        if default_handler is not None:
            if DEFAULT_HANDLER in defs:
                raise GraphBuildError(
                    f"'{DEFAULT_HANDLER}' is reserved for the default error handler"
                )
            defs[DEFAULT_HANDLER] = _handler_def(DEFAULT_HANDLER, default_handler)
        channels: dict[str, BaseChannel] = {k: c.new() for k, c in self.channels.items()}
        channels[TASKS] = Topic(key=TASKS)
        channels[START] = EphemeralValue(Any, key=START)  # the input, until START runs
        for node in defs:
            channels[branch_channel(node)] = Trigger(branch_channel(node))
        joins: dict[str, list[tuple[str, Any]]] = {n: [] for n in [START, *defs]}
        join_triggers: dict[str, list[str]] = {n: [] for n in defs}
        for sources, target in self.waiting_edges:
            key = join_channel(sources, target)
            channels[key] = NamedBarrierValue(sources, key)
            if target != END:
                join_triggers[target].append(key)
            for source in sources:
                joins[source].append((key, source))
        edge_writes: dict[str, list[tuple[str, Any]]] = {n: [] for n in [START, *defs]}
        for source, target in self.edges:
            if target != END:
                edge_writes[source].append((branch_channel(target), source))
        untracked = untracked_keys(channels)
        if untracked:  # stored Send packets must not carry live values
            channels[TASKS] = SendTopic(TASKS, untracked)
        state_coerce = state_coercer(self.state_schema)
        defaults = self.node_defaults
        nodes: dict[str, NodeSpec] = {}
        for node_name, definition in defs.items():
            input_schema = definition.input_schema
            input_keys = (
                tuple(channels_of(input_schema)) if input_schema is not None else self.state_keys
            )
            coerce = state_coercer(input_schema) if input_schema is not None else state_coerce
            if self.root:
                coerce = _root_value
            subgraph = find_subgraph(definition.action, CompiledGraph)
            func = NodeFunc(definition.action, f"node '{node_name}'")
            timeout = _default(definition.timeout, defaults.get("timeout"))
            if timeout is not None and not cancellable(func):
                raise GraphBuildError(
                    f"node '{node_name}' has a timeout, which is only supported for async nodes "
                    "(a sync function cannot be cancelled)"
                )
            nodes[node_name] = NodeSpec(
                name=node_name,
                func=func,
                triggers=(branch_channel(node_name), *join_triggers[node_name]),
                edge_writes=(*edge_writes[node_name], *joins[node_name]),
                branches=self._branch_specs(node_name),
                retry_policy=_default(definition.retry_policy, defaults.get("retry_policy")),
                timeout=timeout,
                cache_policy=None
                if definition.is_handler
                else _default(definition.cache_policy, defaults.get("cache_policy")),
                error_handler=None
                if definition.is_handler
                else definition.error_handler
                or (DEFAULT_HANDLER if default_handler is not None else None),
                defer=definition.defer,
                input_keys=input_keys,
                input_coerce=coerce,
                metadata=definition.metadata,
                managed=tuple(
                    managed_of(input_schema).items()
                    if input_schema is not None
                    else self.managed.items()
                ),
                subgraph=subgraph,
            )
        start = NodeSpec(
            name=START,
            func=None,
            triggers=(START,),
            edge_writes=(*edge_writes[START], *joins[START]),
            branches=self._branch_specs(START),
        )
        input_schema = self.input_schema
        root = self.root
        return GraphSpec(
            channels=channels,
            state_keys=self.state_keys,
            input_keys=self.input_keys,
            output_keys=ROOT if root else self.output_keys,
            root_key=ROOT if root else None,
            nodes=nodes,
            start=start,
            writable_keys=frozenset(self.channels),
            input_coerce=_root_input
            if root
            else None
            if typing.is_typeddict(input_schema)
            else object_to_dict,
            state_coerce=_root_value if root else state_coerce,
            start_step=True,
            interrupt_before=frozenset(before),
            interrupt_after=frozenset(after),
            name=name or "LangGraph",
        )

    def _branch_specs(self, source: str) -> tuple[BranchSpec, ...]:
        return tuple(
            BranchSpec(
                source=source,
                path=NodeFunc(b.path, f"the conditional edge from '{source}'"),
                path_map=b.path_map,
                input_keys=None if b.input_schema is None else tuple(channels_of(b.input_schema)),
                input_coerce=None if b.input_schema is None else state_coercer(b.input_schema),
                extras=b.extras,
            )
            for b in self.branches.get(source, [])
        )


class CompiledStateGraph(CompiledGraph):
    """A compiled :class:`StateGraph`; see :class:`~threadloom._engine._pregel.CompiledGraph`."""

    def __init__(self, spec: GraphSpec, *, builder: StateGraph, **kwargs: Any) -> None:
        super().__init__(spec, **kwargs)
        self.builder = builder

    def get_graph(self, config: Any = None, *, xray: int | bool = False) -> Any:
        """A drawable view of the graph: ``get_graph().draw_mermaid()`` renders it."""
        from threadloom.graph._drawing import draw

        return draw(self, config, xray)

    @property
    def channels(self) -> dict[str, BaseChannel]:
        """The state keys' channels, as the builder made them (LangGraph's ``graph.channels``)."""
        return self.builder.channels


def _warn_invalid_state_schema(schema: Any) -> None:
    """Warn (with LangGraph's text) when the state schema is a value instead of a type."""
    if isinstance(schema, type) or typing.get_args(schema):
        return
    warnings.warn(
        f"Invalid state_schema: {schema}. Expected a type or Annotated[type, reducer]. "
        "Please provide a valid schema to ensure correct updates.\n"
        " See: https://langchain-ai.github.io/langgraph/reference/graphs/#stategraph",
        UserWarning,
        stacklevel=3,
    )


def _check_checkpointer(checkpointer: Any) -> None:
    """A saver, ``True`` or ``False`` (subgraphs) or ``None``; anything else is refused early."""
    if checkpointer in (None, True, False) or isinstance(checkpointer, BaseCheckpointSaver):
        return
    raise InvalidCheckpointerError(
        "Invalid checkpointer provided. Expected an instance of `BaseCheckpointSaver`, "
        f"`True`, `False`, or `None`. Received {type(checkpointer).__name__}. "
        "Pass a proper saver (e.g., InMemorySaver, SqliteSaver)."
    )


def _deprecated(
    kwargs: dict[str, Any], old: str, new: str, category: type[Warning], stacklevel: int = 3
) -> Any:
    """Pop the older spelling ``old`` of an argument, warning as LangGraph does."""
    warnings.warn(
        category(f"`{old}` is deprecated and will be removed. Please use `{new}` instead."),
        stacklevel=stacklevel,
    )
    return kwargs.pop(old)


def _is_root_type(schema: Any) -> bool:
    """Whether ``schema`` is a type a whole state can be (``list[str]``, ``Annotated[...]``)."""
    if typing.get_origin(schema) is typing.Annotated:
        return True
    return isinstance(schema, type) or typing.get_origin(schema) is not None


def _root_input(value: Any) -> dict[str, Any]:
    return {ROOT: value}


def _root_value(values: dict[str, Any]) -> Any:
    return values.get(ROOT)


DEFAULT_HANDLER = "__default_error_handler__"
"""The node that ``set_node_defaults(error_handler=...)`` adds."""


def _handler_def(name: str, handler: Any) -> _NodeDef:
    """The node that runs ``handler`` when a node fails."""
    wrapper = ErrorHandler(handler, f"error handler '{name}'")
    return _NodeDef(name, wrapper.acall if wrapper.is_async else wrapper.call, is_handler=True)


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def _check_retry(name: str, retry_policy: Any) -> Any:
    """A retry policy, or a sequence of them (the first whose ``retry_on`` matches applies)."""
    if retry_policy is None or isinstance(retry_policy, RetryPolicy):
        return retry_policy
    if isinstance(retry_policy, (list, tuple)) and all(
        isinstance(p, RetryPolicy) for p in retry_policy
    ):
        return tuple(retry_policy) or None
    raise GraphBuildError(
        f"retry_policy of node '{name}' must be a RetryPolicy, got {retry_policy!r}"
    )


def _name_of(action: Any) -> str:
    """A node's name as LangGraph gives it: a runnable's name, a function's, else its class's."""
    name = getattr(action, "name", None)
    if isinstance(name, str) and name:
        return name
    name = getattr(action, "__name__", None)
    if isinstance(name, str) and name:
        return name
    return type(action).__name__


_get_node_name = _name_of
"""LangGraph's private name for how ``add_node(fn)`` names a node (its tests import it)."""

_is_field_channel = field_channel
"""LangGraph's private name for reading a channel out of an ``Annotated`` hint."""


def _as_names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _inferred_input_schema(action: Any, state_schema: Any) -> Any:
    """A node whose first parameter is annotated with another schema reads that schema's keys."""
    hint = _first_param_hint(action)
    if hint is None or hint is state_schema or not is_schema(hint):
        return None
    return hint


def _first_param_hint(action: Any) -> Any:
    """The type hint of ``action``'s first parameter, or ``None``."""
    import inspect

    try:
        params = list(inspect.signature(action).parameters.values())
        call = action if inspect.isfunction(action) or inspect.ismethod(action) else None
        if call is None and callable(action) and not isinstance(action, type):
            bound = action.__call__  # a callable object: its __call__ carries the hints
            call = bound if inspect.ismethod(bound) else None
        hints = typing.get_type_hints(call) if call is not None else {}
    except Exception:
        return None
    return hints.get(params[0].name) if params else None


def _literal_map(path: Any) -> dict[Hashable, str] | None:
    """A path_map read from a ``Literal[...]`` return annotation, if there is one."""
    try:
        hint = typing.get_type_hints(path).get("return")
    except Exception:
        return None
    if typing.get_origin(hint) is typing.Literal:
        return {v: v for v in typing.get_args(hint)}
    return None
