"""What a compiled graph is made of: channel prototypes, nodes, edges and branches.

The builder (``threadloom.graph``) produces a :class:`GraphSpec`; the engine
only reads it. Everything the hot loop looks up per step is precomputed here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from threadloom.channels.base import BaseChannel

if TYPE_CHECKING:
    from threadloom._engine._injection import NodeFunc
    from threadloom.types import RetryPolicy, TimeoutPolicy

__all__ = ["BranchSpec", "GraphSpec", "NodeSpec"]


@dataclass
class BranchSpec:
    """A conditional edge: ``path(state)`` names the next node(s), mapped by ``path_map``."""

    source: str
    path: NodeFunc
    path_map: dict[Hashable, str] | None = None
    input_keys: tuple[str, ...] | None = None
    """The keys the path function reads, when it declares its own input schema."""
    input_coerce: Callable[[dict[str, Any]], Any] | None = None
    extras: bool = True
    """Whether the path also sees keys its node returned that the state does not keep."""


@dataclass
class NodeSpec:
    """A node as the engine sees it."""

    name: str
    func: NodeFunc | None
    """``None`` only for the START pseudo-node."""
    triggers: tuple[str, ...] = ()
    """Channels whose availability schedules the node."""
    edge_writes: tuple[tuple[str, Any], ...] = ()
    """Writes made after every successful run: the node's static edges."""
    branches: tuple[BranchSpec, ...] = ()
    retry_policy: RetryPolicy | Any = None
    timeout: TimeoutPolicy | None = None
    """Limits of each attempt (async nodes only)."""
    error_handler: str | None = None
    """The node that runs instead of failing the run when this one fails (after its retries)."""
    cache_policy: Any = None
    defer: bool = False
    input_keys: tuple[str, ...] = ()
    """State keys the node reads."""
    input_coerce: Callable[[dict[str, Any]], Any] | None = None
    """Turns the dict of state values into the node's input type (dataclass, model)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    managed: tuple[tuple[str, type], ...] = ()
    """Input keys whose values the run provides (``RemainingSteps``, ``IsLastStep``)."""
    subgraph: Any = None
    """The compiled graph this node runs, if it is one."""
    update_output: Callable[[Any], Any] | None = None
    """Turns an ``update_state`` value into the node's output (a low-level node's writes)."""


@dataclass
class GraphSpec:
    """A compiled graph's structure, shared by every run of it."""

    channels: dict[str, BaseChannel]
    """Prototypes, copied empty for each new thread."""
    state_keys: tuple[str, ...]
    input_keys: tuple[str, ...]
    output_keys: str | tuple[str, ...]
    """The keys ``invoke`` returns (one key as a string: its value alone)."""
    nodes: dict[str, NodeSpec]
    start: NodeSpec
    writable_keys: frozenset[str]
    trigger_index: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Channel -> nodes it can schedule."""
    node_order: dict[str, int] = field(default_factory=dict)
    delta_keys: tuple[str, ...] = ()
    ephemeral_keys: tuple[str, ...] = ()
    untracked_keys: frozenset[str] = frozenset()
    """Channels whose values are never saved, nor writes to them (``UntrackedValue``)."""
    input_coerce: Callable[[Any], dict[str, Any]] | None = None
    """Turns a non-dict graph input (a dataclass, a model) into a dict."""
    state_coerce: Callable[[dict[str, Any]], Any] | None = None
    """Turns a dict of state values into the state schema's type, for branches."""
    deferred: tuple[str, ...] = ()
    streams_live: bool = False
    """Stream parts while a step runs, not after it (a workflow's task updates)."""
    update_coerce: Callable[[Any], Any] | None = None
    """Turns an ``update_state`` value into the output of the graph's one node (entrypoints)."""
    result_keys: frozenset[str] = frozenset()
    """The keys a task's result shows in run events, when not every writable key (a workflow's
    return value, not the ``previous`` it keeps)."""
    traced_input: Callable[[Any], Any] | None = None
    """What a node's callback run shows as its input, when not the node's input (entrypoints)."""
    snapshot_keys: str | tuple[str, ...] | None = None
    """What ``get_state().values`` shows of a low-level graph (its stream channels, or all)."""
    stream_keys: str | tuple[str, ...] | None = None
    """What ``stream_mode="values"`` shows of a low-level graph, when its writes touch it."""
    root_key: str | None = None
    """The one channel of a graph whose state is a single value (``StateGraph(list[str])``)."""
    start_step: bool = False
    """The input is written to the ``__start__`` channel and START runs as step 0 (a StateGraph)."""
    interrupt_before: frozenset[str] = frozenset()
    interrupt_after: frozenset[str] = frozenset()
    name: str = "graph"
    sticky_nodes: frozenset[str] = frozenset()
    """Nodes triggered by a channel that keeps its value once read (a low-level graph's
    ``LastValue``): they run again only on a version of it newer than they saw."""

    def __post_init__(self) -> None:
        index: dict[str, list[str]] = {}
        for name, node in self.nodes.items():
            for channel in node.triggers:
                index.setdefault(channel, []).append(name)
        self.trigger_index = {k: tuple(v) for k, v in index.items()}
        self.node_order = {name: i for i, name in enumerate(self.nodes)}
        self.delta_keys = tuple(k for k, c in self.channels.items() if c.supports_delta)
        self.ephemeral_keys = tuple(k for k, c in self.channels.items() if c.ephemeral)
        self.untracked_keys = frozenset(k for k, c in self.channels.items() if c.untracked)
        self.deferred = tuple(n for n, node in self.nodes.items() if node.defer)
        self.sticky_nodes = frozenset(
            name
            for name, node in self.nodes.items()
            if any(_keeps_value(self.channels.get(t)) for t in node.triggers)
        )

    def new_channels(self) -> dict[str, BaseChannel]:
        """A fresh, empty set of channels."""
        return {k: c.new() for k, c in self.channels.items()}


def _keeps_value(channel: BaseChannel | None) -> bool:
    """Whether a trigger channel stays available after the node it triggers reads it."""
    return (
        channel is not None
        and not channel.ephemeral
        and type(channel).consume is BaseChannel.consume
    )
