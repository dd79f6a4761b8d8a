"""A drawable view of a built graph (``compiled.get_graph().draw_mermaid()``).

The nodes, edges, labels and their order match LangGraph's drawing of the same
graph, so its mermaid and ASCII text is the same; the edges come from a dry run
of the graph's triggers (``_engine._draw_walk``).
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import END, START, branch_channel, join_channel
from threadloom._engine._draw_graph import (
    DrawnGraph,
    assemble,
    interrupt_metadata,
    subgraph_drawings,
)
from threadloom._engine._draw_walk import Wiring, after_finish, barrier, ephemeral, walk
from threadloom.types import Command

if TYPE_CHECKING:
    from threadloom.graph.state import CompiledStateGraph, StateGraph

__all__ = ["command_ends", "draw"]


def draw(graph: CompiledStateGraph, config: Any = None, xray: int | bool = False) -> DrawnGraph:
    """The nodes and edges of a compiled state graph as a LangChain ``Graph``.

    With ``xray`` (``True``, or a depth), the nodes of each subgraph are drawn
    in place of the node that runs it.
    """
    builder, spec = graph.builder, graph.spec
    names = _drawing_order(builder, list(spec.nodes))
    nodes = []
    for name in names:
        definition = builder.nodes.get(name)
        metadata = dict(definition.metadata or {}) if definition is not None else {}
        if definition is not None and definition.defer:
            metadata["defer"] = True
        metadata.update(interrupt_metadata(name, spec.interrupt_before, spec.interrupt_after))
        nodes.append((name, definition.action if definition is not None else None, metadata))
    actions = {name: action for name, action, _ in nodes if action is not None}
    found = walk(_wiring(builder, names))
    return assemble(
        nodes, found, start_is_node=True, subgraphs=subgraph_drawings(actions, config, xray)
    )


def _drawing_order(builder: StateGraph, names: list[str]) -> list[str]:
    """Node names as LangGraph lists them: a node's own error handler just before it."""
    handlers = {d.error_handler for d in builder.nodes.values() if d.error_handler}
    ordered: list[str] = []
    for name in names:
        if name in handlers:
            continue
        handler = builder.nodes[name].error_handler if name in builder.nodes else None
        if handler is not None and handler in names:
            ordered.append(handler)
        ordered.append(name)
    return ordered


def _wiring(builder: StateGraph, node_names: list[str]) -> Wiring:
    """The builder's edges as trigger channels and the writes that fill them."""
    channels = {START: ephemeral()}
    channel_of = {}
    for name in node_names:
        definition = builder.nodes.get(name)
        deferred = definition is not None and definition.defer
        channel_of[name] = branch_channel(name)
        channels[branch_channel(name)] = after_finish() if deferred else ephemeral()
    triggers: dict[str, list[str]] = {START: [START]}
    triggers.update({name: [branch_channel(name)] for name in node_names})
    writes: dict[str, list[tuple[str, str | None]]] = {n: [] for n in [START, *node_names]}
    for source, target in builder.edges:
        if target != END:
            writes[source].append((branch_channel(target), None))
    for sources, target in builder.waiting_edges:
        if target == END:
            continue
        key = join_channel(sources, target)
        definition = builder.nodes.get(target)
        channels[key] = barrier(sources, deferred=definition is not None and definition.defer)
        triggers[target].append(key)
        for source in sources:
            writes[source].append((key, source))
    declared: dict[str, list[tuple[str, str | None]]] = {n: [] for n in [START, *node_names]}
    for name in node_names:
        definition = builder.nodes.get(name)
        if definition is not None:
            ends = command_ends(definition.action, definition.destinations)
            declared[name].extend((dest, label) for dest, label in ends.items())
    for source, branches in builder.branches.items():
        for branch in branches:
            if branch.path_map is not None:
                declared[source].extend(
                    (dest, str(label))
                    for label, dest in branch.path_map.items()
                    if dest is not None
                )
    return Wiring(
        nodes=[START, *node_names],
        inputs=[(START, None)],
        triggers=triggers,
        channels=channels,
        writes=writes,
        declared=declared,
        channel_of=channel_of,
    )


def command_ends(action: Any, destinations: Any) -> dict[str, str | None]:
    """Where a node may go by ``Command(goto=...)``: destination -> edge label."""
    if destinations is not None:
        if isinstance(destinations, dict):
            return {str(k): str(v) for k, v in destinations.items()}
        return {str(d): None for d in destinations}
    ends: dict[str, str | None] = {}
    for hint in _return_hints(action):
        if typing.get_origin(hint) is Command:
            for arg in typing.get_args(hint):
                if typing.get_origin(arg) is typing.Literal:
                    ends.update({str(v): None for v in typing.get_args(arg)})
    return ends


def _return_hints(action: Any) -> tuple[Any, ...]:
    """The return annotation of a node function, split into the members of a union."""
    # A runnable wrapping a function (RunnableLambda) declares through that function.
    fn = getattr(action, "func", None) if hasattr(action, "invoke") else action
    if not callable(fn):
        return ()
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # unresolvable annotations: no declared destinations
        return ()
    if hint is None:
        return ()
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)
