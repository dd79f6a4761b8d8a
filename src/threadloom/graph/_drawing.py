"""A drawable view of a built graph (``compiled.get_graph().draw_mermaid()``).

The nodes, edges, labels and their order match LangGraph's drawing of the same
graph, so its mermaid and ASCII text is the same; the edges come from a dry run
of the graph's triggers (``_draw_edges``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnableSequence
from langchain_core.runnables.graph import Graph
from langchain_core.runnables.utils import get_function_nonlocals

from threadloom._engine._constants import END, START, branch_channel, join_channel
from threadloom.graph._draw_edges import (
    Wiring,
    after_finish,
    barrier,
    edge_key,
    ephemeral,
    walk,
)
from threadloom.types import Command

if TYPE_CHECKING:
    from threadloom.graph.state import StateGraph

__all__ = ["DrawnGraph", "command_ends", "draw", "find_subgraph"]


class DrawnGraph(Graph):
    """LangChain's ``Graph``; its ASCII drawing names the extra that provides grandalf."""

    def draw_ascii(self) -> str:
        try:
            import grandalf  # noqa: F401  (only checks that the layout package is there)
        except ImportError as e:
            raise ImportError(
                "draw_ascii() lays the graph out with grandalf: pip install 'threadloom[draw]'"
            ) from e
        return super().draw_ascii()


def draw(
    builder: StateGraph,
    *,
    node_names: list[str],
    interrupt_before: frozenset[str] = frozenset(),
    interrupt_after: frozenset[str] = frozenset(),
    subgraphs: dict[str, Graph] | None = None,
) -> Graph:
    """The nodes and edges of ``builder`` as a LangChain ``Graph``.

    ``node_names`` are the compiled graph's nodes (the builder's, plus a default
    error handler); ``subgraphs`` are drawn in place of the nodes that run them
    (``get_graph(xray=...)``).
    """
    found = walk(_wiring(builder, node_names))
    graph = DrawnGraph()
    graph.add_node(None, START)
    for name in node_names:
        definition = builder.nodes.get(name)
        metadata = dict(definition.metadata or {}) if definition is not None else {}
        if definition is not None and definition.defer:
            metadata["defer"] = True
        if name in interrupt_before and name in interrupt_after:
            metadata["__interrupt"] = "before,after"
        elif name in interrupt_before:
            metadata["__interrupt"] = "before"
        elif name in interrupt_after:
            metadata["__interrupt"] = "after"
        action = definition.action if definition is not None else None
        data = action if isinstance(action, Runnable) else None
        graph.add_node(data, name, metadata=metadata or None)
    for edge in sorted(found.edges, key=edge_key):
        label = edge.label if edge.label != edge.target else None
        _add_edge(graph, edge.source, edge.target, label, conditional=edge.conditional)
    # Where the run may stop: nodes that lead nowhere, else the one node of the last step.
    termini = {e.target for e in found.edges if e.target != END} - {e.source for e in found.edges}
    if termini:
        for name in sorted(termini):
            _add_edge(graph, name, END)
    elif len(found.last_sources) == 1 and not any(e.target == END for e in found.edges):
        _add_edge(graph, found.last_sources[0], END, conditional=True)
    for name, subgraph in (subgraphs or {}).items():
        _inline(graph, name, subgraph)
    return graph


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
        triggers=triggers,
        channels=channels,
        writes=writes,
        declared=declared,
        channel_of=channel_of,
    )


def _add_edge(
    graph: Graph, source: str, target: str, data: str | None = None, *, conditional: bool = False
) -> None:
    """Add one edge unless the pair is already drawn; add END when first needed."""
    if any(e.source == source and e.target == target for e in graph.edges):
        return
    if target == END and END not in graph.nodes:
        graph.add_node(None, END)
    graph.add_edge(graph.nodes[source], graph.nodes[target], data, conditional)


def _inline(graph: Graph, name: str, subgraph: Graph) -> None:
    """Draw ``subgraph``'s inner nodes in place of node ``name`` (``xray``)."""
    if len(subgraph.nodes) <= 1 or name not in graph.nodes:
        return
    if not subgraph.first_node() or not subgraph.last_node():
        return
    subgraph.trim_first_node()
    subgraph.trim_last_node()
    graph.nodes.pop(name)
    first, last = graph.extend(subgraph, prefix=name)
    for i, edge in enumerate(graph.edges):
        if edge.source == name and last is not None:
            edge = edge.copy(source=last.id)
        if edge.target == name and first is not None:
            edge = edge.copy(target=first.id)
        graph.edges[i] = edge


def find_subgraph(action: Any) -> Any:
    """The compiled graph a node runs: itself, a step of a sequence, or one its function uses."""
    from threadloom._engine._pregel import CompiledGraph

    candidates = [action]
    for candidate in candidates:
        if isinstance(candidate, CompiledGraph):
            if getattr(candidate, "checkpointer", None) is not False:
                return candidate
        elif isinstance(candidate, RunnableSequence):
            candidates.extend(candidate.steps)
        elif isinstance(candidate, RunnableLambda):
            candidates.extend(candidate.deps)
        elif callable(candidate) and isinstance(candidate, types.FunctionType | types.MethodType):
            candidates.extend(_used_by(candidate))
    return None


def _used_by(func: Callable[..., Any]) -> list[Any]:
    """The objects a function reads from its closure and globals (``subgraph.invoke``)."""
    try:
        found = get_function_nonlocals(func)
    except Exception:  # source not available: nothing found
        return []
    return [getattr(x, "__self__", x) for x in found]


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
