"""Subgraph persistence: which nodes run a subgraph, and the namespaces their checkpoints live in.

As in LangGraph, a subgraph's checkpoints are saved in the parent's saver under
``checkpoint_ns`` ``"<node>:<task id>"`` (nested ones joined with ``|``); one
compiled with ``checkpointer=True`` keeps one namespace per node path,
``"<node>"``, so its state carries over from call to call. A config naming such
a namespace addresses the subgraph: the parent's ``get_state``,
``get_state_history`` and ``update_state`` hand it to the subgraph.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ReplayState",
    "find_subgraph",
    "graph_for_namespace",
    "recast",
    "subgraphs_of",
    "task_namespace",
    "with_checkpoint_map",
]


def find_subgraph(action: Any, graph_type: type) -> Any:
    """The compiled graph a node runs: the node itself, or one its function refers to.

    A function node that calls ``subgraph.invoke(...)`` refers to the subgraph
    from its closure or its module's globals (LangGraph finds it the same way).
    """
    if isinstance(action, graph_type):
        return action
    func = action
    while isinstance(func, functools.partial):
        func = func.func
    func = getattr(func, "func", None) or getattr(func, "afunc", None) or func  # RunnableLambda
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue
        if isinstance(value, graph_type):
            return value
    names = getattr(func, "__globals__", {})
    for name in code.co_names:
        value = names.get(name)
        if isinstance(value, graph_type):
            return value
    return None


def recast(ns: str) -> str:
    """A namespace without its task ids: ``"a:1|b:2"`` -> ``"a|b"``."""
    return "|".join(part.split(":", 1)[0] for part in ns.split("|"))


def task_namespace(parent_ns: str, name: str, task_id: str) -> str:
    """The namespace of the subgraph that task ``task_id`` of node ``name`` runs."""
    segment = f"{name}:{task_id}"
    return f"{parent_ns}|{segment}" if parent_ns else segment


def subgraphs_of(
    graph: Any, namespace: str | None = None, *, recurse: bool = False
) -> Iterator[tuple[str, Any]]:
    """``(path, subgraph)`` pairs of ``graph``'s nodes; with ``namespace`` only the one it names."""
    yield from _walk(graph, namespace, recurse, {id(graph)})


def _walk(
    graph: Any, namespace: str | None, recurse: bool, seen: set[int]
) -> Iterator[tuple[str, Any]]:
    for name, node in graph.spec.nodes.items():
        sub = node.subgraph
        if sub is None or id(sub) in seen:
            continue  # a node that refers to its own graph is not a subgraph
        if namespace is not None and namespace != name and not namespace.startswith(f"{name}|"):
            continue
        if namespace == name:
            yield name, sub
            return
        if namespace is None:
            yield name, sub
        if recurse:
            rest = None if namespace is None else namespace[len(name) + 1 :]
            for path, inner in _walk(sub, rest, recurse, seen | {id(sub)}):
                yield f"{name}|{path}", inner


def graph_for_namespace(graph: Any, ns: str) -> Any:
    """The subgraph of ``graph`` whose checkpoints ``ns`` names, or ``None``."""
    for _, sub in subgraphs_of(graph, recast(ns), recurse=True):
        return sub
    return None


class ReplayState:
    """A replay of the root from a past checkpoint, as its subgraphs see it.

    The first call of each subgraph (per node path: a loop's later calls are
    normal) loads the subgraph's latest checkpoint from before the replayed
    one, and takes its input afresh, so a ``checkpointer=True`` subgraph
    starts from the state it had at that point of the thread.
    """

    __slots__ = ("_visited", "checkpoint_id")

    def __init__(self, checkpoint_id: str) -> None:
        self.checkpoint_id = checkpoint_id
        self._visited: set[str] = set()

    def first_visit(self, ns: str) -> bool:
        """Whether the subgraph in namespace ``ns`` runs for the first time in this replay."""
        stable = ns.rsplit(":", 1)[0]
        if stable in self._visited:
            return False
        self._visited.add(stable)
        return True

    def reader(self, saver: Any) -> _Before:
        """``saver`` as seen by the first load: its ``get_tuple`` finds the checkpoint before."""
        return _Before(saver, self.checkpoint_id)


class _Before:
    """A saver whose ``get_tuple`` is the latest checkpoint older than ``checkpoint_id``."""

    __slots__ = ("before", "saver")

    def __init__(self, saver: Any, checkpoint_id: str) -> None:
        self.saver = saver
        self.before = {"configurable": {"checkpoint_id": checkpoint_id}}

    # The found checkpoint is read again by id: the saver then knows the run branches off
    # a past checkpoint (its concurrency check expects no particular head).

    def get_tuple(self, config: Any) -> Any:
        listed = self.saver.list(config, before=self.before, limit=1)
        try:
            found = next(iter(listed), None)
        finally:
            close = getattr(listed, "close", None)
            if close is not None:
                close()  # a saver's reader stays open until its iterator ends
        return None if found is None else self.saver.get_tuple(found.config)

    async def aget_tuple(self, config: Any) -> Any:
        listed = self.saver.alist(config, before=self.before, limit=1)
        found = None
        try:
            async for item in listed:
                found = item
                break
        finally:
            close = getattr(listed, "aclose", None)
            if close is not None:
                await close()
        return None if found is None else await self.saver.aget_tuple(found.config)


def with_checkpoint_map(config: Any, metadata: dict[str, Any] | None) -> Any:
    """A subgraph checkpoint's config with ``checkpoint_map``: the checkpoint of each graph
    above it at that time, and its own (how the root finds them all on a time travel)."""
    parents = (metadata or {}).get("parents")
    if not config:
        return config or {}
    if not parents:
        return config
    conf = config["configurable"]
    return {
        **config,
        "configurable": {
            **conf,
            "checkpoint_map": {**parents, conf.get("checkpoint_ns", ""): conf.get("checkpoint_id")},
        },
    }
