"""A drawable view of a built graph (``compiled.get_graph().draw_mermaid()``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.runnables.graph import Graph

from threadloom._engine._constants import END, START

if TYPE_CHECKING:
    from threadloom.graph.state import StateGraph

__all__ = ["draw"]


def draw(builder: StateGraph) -> Graph:
    """The nodes and edges of ``builder`` as a LangChain ``Graph``.

    Conditional edges are drawn to every destination of their ``path_map``
    (or to every node when the destinations are unknown), marked conditional.
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
