"""A drawable view of a compiled graph: LangChain's ``Graph``, assembled as LangGraph does.

The edges come from :mod:`._draw_walk`; this module adds the nodes in the
graph's order, the edges in LangGraph's order, the edges to ``__end__``, and
draws subgraphs in place of their nodes (``get_graph(xray=...)``).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda, RunnableSequence
from langchain_core.runnables.graph import Graph
from langchain_core.runnables.utils import get_function_nonlocals

from threadloom._engine._constants import END, START
from threadloom._engine._draw_walk import EdgeWalk, edge_key

__all__ = ["DrawnGraph", "assemble", "find_subgraph", "interrupt_metadata", "subgraph_drawings"]


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


def assemble(
    nodes: Iterable[tuple[str, Any, dict[str, Any] | None]],
    found: EdgeWalk,
    *,
    start_is_node: bool,
    subgraphs: Mapping[str, Graph] | None = None,
) -> DrawnGraph:
    """The drawing of ``nodes`` (name, data, metadata) with the edges ``found``.

    ``start_is_node``: START ran as a node of the walk (a state graph), so it is
    listed first and its edges are among ``found``; otherwise it is listed after
    the nodes, with an edge to each node the input started.
    """
    graph = DrawnGraph()
    if start_is_node:
        graph.add_node(None, START)
    for name, data, metadata in nodes:
        graph.add_node(data if isinstance(data, Runnable) else None, name, metadata=metadata or None)
    if not start_is_node:
        graph.add_node(None, START)
        for name in found.first_tasks:
            _add_edge(graph, START, name)
    for edge in sorted(found.edges, key=edge_key):
        label = edge.label if edge.label != edge.target else None
        _add_edge(graph, edge.source, edge.target, label, conditional=edge.conditional)
    # Where the run may stop: nodes that lead nowhere, else the one node of the last step.
    termini = {e.target for e in found.edges if e.target != END} - {
        e.source for e in found.edges
    }
    if termini:
        for name in sorted(termini):
            _add_edge(graph, name, END)
    elif len(found.last_sources) == 1 and not any(e.target == END for e in found.edges):
        _add_edge(graph, found.last_sources[0], END, conditional=True)
    for name, subgraph in (subgraphs or {}).items():
        _inline(graph, name, subgraph)
    return graph


def interrupt_metadata(
    name: str, before: Iterable[str], after: Iterable[str]
) -> dict[str, str]:
    """The ``__interrupt`` mark of a node that a static interrupt stops at."""
    is_before, is_after = name in before, name in after
    if is_before and is_after:
        return {"__interrupt": "before,after"}
    if is_before:
        return {"__interrupt": "before"}
    if is_after:
        return {"__interrupt": "after"}
    return {}


def subgraph_drawings(
    actions: Mapping[str, Any], config: Any, xray: int | bool
) -> dict[str, Graph]:
    """The drawings of the subgraphs the nodes run, one level less deep (for ``xray``)."""
    if not xray:
        return {}
    deeper = xray if isinstance(xray, bool) else xray - 1
    drawings: dict[str, Graph] = {}
    for name, action in actions.items():
        sub = find_subgraph(action)
        # Graphs that draw themselves (state graphs, entrypoints, Pregel graphs) take xray.
        if sub is not None and "xray" in inspect.signature(sub.get_graph).parameters:
            drawings[name] = sub.get_graph(config, xray=deeper)
    return drawings


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
        elif isinstance(candidate, list):  # the steps of a low-level node
            candidates.extend(candidate)
        elif isinstance(candidate, RunnableLambda):
            candidates.extend(candidate.deps)
        elif isinstance(candidate, types.FunctionType | types.MethodType):
            candidates.extend(_used_by(candidate))
    return None


def _used_by(func: Callable[..., Any]) -> list[Any]:
    """The objects a function reads from its closure and globals (``subgraph.invoke``)."""
    try:
        found = get_function_nonlocals(func)
    except Exception:  # source not available: nothing found
        return []
    return [getattr(x, "__self__", x) for x in found]
