"""``Pregel``: a graph built directly from channels and nodes (the low-level API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from threadloom._engine._constants import START, TASKS
from threadloom._engine._injection import NodeFunc
from threadloom._engine._pregel import CompiledGraph
from threadloom._engine._spec import GraphSpec, NodeSpec
from threadloom.channels.base import BaseChannel
from threadloom.channels.topic import Topic
from threadloom.errors import GraphBuildError
from threadloom.pregel._node import NodeBuilder, NodeChain, PregelNode
from threadloom.types import RetryPolicy

__all__ = ["Pregel"]


class Pregel(CompiledGraph):
    """A graph of nodes that read and write named channels, run in supersteps.

    Example::

        from threadloom.channels import LastValue
        from threadloom.pregel import NodeBuilder, Pregel

        node = NodeBuilder().subscribe_only("a").do(lambda x: x + x).write_to("b")
        app = Pregel(
            nodes={"node": node},
            channels={"a": LastValue(str), "b": LastValue(str)},
            input_channels="a",
            output_channels="b",
        )
        assert app.invoke("hi") == "hihi"
    """

    def __init__(
        self,
        *,
        nodes: Mapping[str, PregelNode | NodeBuilder],
        channels: Mapping[str, BaseChannel] | None,
        input_channels: str | Sequence[str],
        output_channels: str | Sequence[str],
        stream_channels: str | Sequence[str] | None = None,
        interrupt_before_nodes: Sequence[str] = (),
        interrupt_after_nodes: Sequence[str] = (),
        stream_mode: str = "values",
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        retry_policy: Any = (),
        context_schema: Any = None,
        name: str = "LangGraph",
        debug: bool | None = None,
        step_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("auto_validate", None)
        kwargs.pop("config_schema", None)
        kwargs.pop("trigger_to_nodes", None)
        if kwargs:
            raise TypeError(f"Pregel() got unexpected arguments {sorted(kwargs)}")
        built = {n: b.build() if isinstance(b, NodeBuilder) else b for n, b in nodes.items()}
        own: dict[str, BaseChannel] = {}
        for key, channel in (channels or {}).items():
            fresh = channel.new()
            fresh.key = key
            own[key] = fresh
        own.setdefault(TASKS, Topic(key=TASKS))
        _check(built, own, input_channels, output_channels, interrupt_before_nodes)
        default_retry = (
            (retry_policy,)
            if isinstance(retry_policy, RetryPolicy)  # a NamedTuple, not a sequence of policies
            else tuple(retry_policy or ())
        )
        streamed = stream_channels if stream_channels is not None else output_channels
        stream_keys = streamed if isinstance(streamed, str) else tuple(streamed)
        specs = {n: _node_spec(n, node, default_retry, stream_keys) for n, node in built.items()}
        keys = tuple(k for k in own if k != TASKS)
        single_in = isinstance(input_channels, str)
        spec = GraphSpec(
            channels=own,
            state_keys=keys,
            input_keys=(input_channels,) if single_in else tuple(input_channels),  # type: ignore[arg-type]
            output_keys=output_channels
            if isinstance(output_channels, str)
            else tuple(output_channels),
            nodes=specs,
            start=NodeSpec(name=START, func=None),
            writable_keys=frozenset(keys),
            input_coerce=(lambda value: {input_channels: value}) if single_in else None,  # type: ignore[dict-item]
            stream_keys=stream_keys,
            snapshot_keys=keys
            if stream_channels is None
            else (stream_channels if isinstance(stream_channels, str) else tuple(stream_channels)),
            interrupt_before=frozenset(interrupt_before_nodes),
            interrupt_after=frozenset(interrupt_after_nodes),
            name=name,
        )
        super().__init__(spec, checkpointer=checkpointer, store=store, name=name)
        self._built = built
        self.channels = dict(channels or {})
        self.input_channels = input_channels
        self.output_channels = output_channels
        self.stream_channels = stream_channels
        self.stream_mode = stream_mode
        self.cache = cache
        self.context_schema = context_schema
        self.debug = bool(debug)
        self.step_timeout = step_timeout
        self.input_type = _channels_type(own, input_channels, "LangGraphInput")
        self.output_type = _channels_type(own, output_channels, "LangGraphOutput")

    @property
    def nodes(self) -> dict[str, PregelNode]:
        """The graph's nodes by name, as built from the given ``NodeBuilder`` objects."""
        return self._built

    def get_graph(self, config: Any = None, *, xray: int | bool = False) -> Any:
        """A drawable view of the graph: ``get_graph().draw_mermaid()`` renders it.

        ``xray=True`` (or a depth) draws the nodes of subgraphs in place of their node.
        """
        from threadloom._engine._draw_graph import subgraph_drawings
        from threadloom.pregel._drawing import draw_pregel

        steps = {name: list(node.bound) for name, node in self._built.items()}
        return draw_pregel(
            self._built,
            self.spec.channels,
            self.input_channels,
            interrupt_before=self.spec.interrupt_before,
            interrupt_after=self.spec.interrupt_after,
            subgraphs=subgraph_drawings(steps, config, xray),
        )


    @property
    def input_schema(self) -> Any:
        """A pydantic model of the input (``.model_json_schema()``)."""
        return _as_model(self.input_type, "LangGraphInput")

    @property
    def output_schema(self) -> Any:
        """A pydantic model of the output (``.model_json_schema()``)."""
        return _as_model(self.output_type, "LangGraphOutput")


def _channels_type(
    channels: Mapping[str, BaseChannel], names: str | Sequence[str], title: str
) -> Any:
    """The type of one channel's values, or a model with one optional field per channel."""
    if isinstance(names, str):
        return getattr(channels[names], "typ", Any)
    from pydantic import create_model

    fields: Any = {n: (getattr(channels[n], "typ", Any), None) for n in names}
    return create_model(title, **fields)


def _as_model(tp: Any, title: str) -> Any:
    from pydantic import BaseModel, RootModel

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    return type(title, (RootModel[tp],), {})


def _node_spec(
    name: str, node: PregelNode, default_retry: tuple[Any, ...], stream_keys: str | tuple[str, ...]
) -> NodeSpec:
    chain = NodeChain(name, node, stream_keys)
    reads = node.channels
    retry = tuple(node.retry_policy) or default_retry
    return NodeSpec(
        name=name,
        func=NodeFunc(chain.func, f"node '{name}'"),
        triggers=tuple(node.triggers),
        input_keys=(reads,) if isinstance(reads, str) else tuple(reads),
        input_coerce=(lambda state: state.get(reads)) if isinstance(reads, str) else None,
        retry_policy=retry or None,
        timeout=node.timeout,
        cache_policy=node.cache_policy,
        metadata=dict(node.metadata),
        update_output=chain.update,
    )


def _check(
    nodes: Mapping[str, PregelNode],
    channels: Mapping[str, BaseChannel],
    inputs: str | Sequence[str],
    outputs: str | Sequence[str],
    interrupts: Sequence[str],
) -> None:
    """Every channel a node or the graph names exists; every trigger is written by someone."""
    for name, node in nodes.items():
        reads = [node.channels] if isinstance(node.channels, str) else node.channels
        written = [w[0] for step in node.bound if isinstance(step, list) for w in step]
        for channel in [*reads, *node.triggers, *written]:
            if channel not in channels:
                raise GraphBuildError(f"node '{name}' names unknown channel '{channel}'")
        if not node.triggers:
            raise GraphBuildError(f"node '{name}' subscribes to no channel")
    for channel in [inputs] if isinstance(inputs, str) else inputs:
        if channel not in channels:
            raise GraphBuildError(f"input channel '{channel}' is not a channel")
    for channel in [outputs] if isinstance(outputs, str) else outputs:
        if channel not in channels:
            raise GraphBuildError(f"output channel '{channel}' is not a channel")
    for name in interrupts:
        if name != "*" and name not in nodes:
            raise GraphBuildError(f"interrupt on unknown node '{name}'")
