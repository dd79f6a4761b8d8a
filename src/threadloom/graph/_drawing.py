"""A drawable view of a built graph (``compiled.get_graph().draw_mermaid()``)."""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any

from langchain_core.runnables.graph import Graph

from threadloom._engine._constants import END, START
from threadloom.types import Command

if TYPE_CHECKING:
    from threadloom.graph.state import StateGraph

__all__ = ["draw"]


def draw(builder: StateGraph) -> Graph:
    """The nodes and edges of ``builder`` as a LangChain ``Graph``.

    Conditional edges are drawn to every destination of their ``path_map``
    (or to every node when the destinations are unknown), marked conditional;
    so are the ``Command(goto=...)`` destinations a node declares (its
    ``destinations=`` or a ``Command[Literal[...]]`` return annotation).
    """
    graph = Graph()
    nodes: dict[str, Any] = {START: graph.add_node(None, START)}
    for name, definition in builder.nodes.items():
        nodes[name] = graph.add_node(None, name, metadata=definition.metadata or None)

    def end_node() -> Any:
        if END not in nodes:
            nodes[END] = graph.add_node(None, END)
        return nodes[END]

    def target(name: str) -> Any:
        return end_node() if name == END else nodes[name]

    for source, dest in builder.edges:
        graph.add_edge(nodes[source], target(dest))
    for sources, dest in builder.waiting_edges:
        for source in sources:
            graph.add_edge(nodes[source], target(dest))
    for name, definition in builder.nodes.items():
        for dest, label in command_ends(definition.action, definition.destinations).items():
            data = label if label != dest else None
            graph.add_edge(nodes[name], target(dest), data, conditional=True)
    for source, branches in builder.branches.items():
        for branch in branches:
            if branch.path_map is not None:
                destinations = {str(k): v for k, v in branch.path_map.items() if v is not None}
            else:
                destinations = {n: n for n in [*builder.nodes, END] if n != source}
            for label, dest in destinations.items():
                data = label if label != dest else None
                graph.add_edge(nodes[source], target(dest), data, conditional=True)
    return graph


def command_ends(action: Any, destinations: Any) -> dict[str, str]:
    """Where a node may go by ``Command(goto=...)``: destination -> edge label."""
    if destinations is not None:
        if isinstance(destinations, dict):
            return {str(k): str(v) for k, v in destinations.items()}
        return {str(d): str(d) for d in destinations}
    ends: dict[str, str] = {}
    for hint in _return_hints(action):
        if typing.get_origin(hint) is Command:
            for arg in typing.get_args(hint):
                if typing.get_origin(arg) is typing.Literal:
                    ends.update({str(v): str(v) for v in typing.get_args(arg)})
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
