"""Which edges a drawing of a graph shows: found by a dry run of its triggers.

A drawing must match LangGraph's text exactly (tools and snapshot tests compare
it), and LangGraph finds edges by running its superstep loop on empty values:
each node writes its static edges and declares its conditional destinations,
and an edge is drawn from every node whose write scheduled another. The same
walk here, over a small model of the trigger channels (ephemeral, barrier,
after-finish), gives the same edges, the same conditional flags and labels, and
the same implicit edges (to a deferred node, from the step before it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from threadloom._engine._constants import END

__all__ = [
    "Edge",
    "EdgeWalk",
    "Wiring",
    "after_finish",
    "barrier",
    "edge_key",
    "ephemeral",
    "persistent",
    "walk",
]

STEP_LIMIT = 250
"""LangGraph's limit too: a cycle stops adding edges long before it."""


class Edge(NamedTuple):
    """A drawn edge: ``label`` names the branch taken (``None`` when it is the target)."""

    source: str
    target: str
    conditional: bool
    label: str | None


class _Trigger(NamedTuple):
    """A write a node makes: to ``channel``, conditional or not, with a label."""

    channel: str
    conditional: bool
    label: str | None


@dataclass
class _Channel:
    """The scheduling behaviour of one trigger channel, without its value."""

    after_finish: bool = False
    """Available only once the run would otherwise stop (deferred nodes)."""
    keeps: bool = False
    """Keeps its value from step to step (``LastValue``, a reducer) instead of losing it."""
    names: frozenset[str] | None = None
    """For a barrier: the writers it waits for."""
    has_value: bool = False
    seen: set[str] = field(default_factory=set)
    finished: bool = False

    def update(self, values: Sequence[str | None]) -> bool:
        if self.names is not None:
            fresh = {v for v in values if v is not None and v in self.names} - self.seen
            self.seen |= fresh
            return bool(fresh)
        if not values:
            if self.after_finish or self.keeps or not self.has_value:
                return False
            self.has_value = False  # an ephemeral value lasts one step
            return True
        self.has_value = True
        self.finished = False
        return True

    def _full(self) -> bool:
        return self.seen == self.names if self.names is not None else self.has_value

    def available(self) -> bool:
        return self._full() and (self.finished or not self.after_finish)

    def consume(self) -> bool:
        if self.names is not None and not self.after_finish:
            if self.seen == self.names:
                self.seen = set()
                return True
            return False
        if self.after_finish and self.finished:
            self.finished = False
            self.has_value = False
            self.seen = set()
            return True
        return False

    def finish(self) -> bool:
        if self.after_finish and not self.finished and self._full():
            self.finished = True
            return True
        return False


@dataclass
class Wiring:
    """A graph's scheduling, as the walk needs it.

    ``writes[node]``: the (channel, value) writes a node makes after every run
    (its plain and waiting edges); ``declared[node]``: the (target, label)
    destinations it declares for static analysis (conditional edges, ``Command``
    destinations), written on its first run only.
    """

    nodes: Sequence[str]
    """In the graph's order (START first when it is a node, as in a state graph)."""
    inputs: Sequence[tuple[str, str | None]]
    """The writes of the graph's input: ``(START, None)`` for a state graph."""
    triggers: Mapping[str, Sequence[str]]
    channels: Mapping[str, _Channel]
    writes: Mapping[str, Sequence[tuple[str, str | None]]]
    declared: Mapping[str, Sequence[tuple[str, str | None]]]
    channel_of: Mapping[str, str]
    """Target node -> the channel that schedules it."""


@dataclass
class EdgeWalk:
    """What the walk found: the edges, the nodes the input starts and those of the last step."""

    edges: set[Edge]
    first_tasks: list[str]
    last_sources: list[str]


def ephemeral() -> _Channel:
    return _Channel()


def after_finish() -> _Channel:
    return _Channel(after_finish=True)


def persistent() -> _Channel:
    return _Channel(keeps=True)


def barrier(names: Iterable[str], *, deferred: bool) -> _Channel:
    return _Channel(after_finish=deferred, names=frozenset(names))


def walk(wiring: Wiring) -> EdgeWalk:
    """Run the graph's triggers on empty values and collect the edges they reveal."""
    return _Walk(wiring).run()


class _Walk:
    def __init__(self, wiring: Wiring) -> None:
        self.w = wiring
        self.versions: dict[str, int] = {}
        self.seen_versions: dict[str, dict[str, int]] = {}
        self.trigger_to_nodes: dict[str, list[str]] = {}
        for name in wiring.nodes:
            for channel in wiring.triggers[name]:
                self.trigger_to_nodes.setdefault(channel, []).append(name)

    def run(self) -> EdgeWalk:
        w = self.w
        edges: set[Edge] = set()
        declared_seen: set[str] = set()
        sources: dict[str, set[_Trigger]] = {}
        step_sources: dict[str, set[_Trigger]] = {}
        declared_writes: dict[str, set[_Trigger]] = {}
        updated = self._apply([], list(w.inputs))
        tasks = self._next_tasks(updated)
        first_tasks = list(tasks)
        for _ in range(STEP_LIMIT + 1):
            if not tasks:
                break
            conditionals: dict[tuple[str, str], str | None] = {}
            task_writes: dict[str, list[tuple[str, str | None]]] = {}
            for task in tasks:
                writes = list(w.writes[task])
                if task not in declared_seen:
                    declared_seen.add(task)
                    for target, label in w.declared[task]:
                        if target == END:  # never written: an edge directly
                            edges.add(Edge(task, END, True, label))
                            continue
                        channel = w.channel_of[target]
                        conditionals[(task, channel)] = label
                        declared_writes.setdefault(task, set()).add(_Trigger(channel, True, label))
                        writes.append((channel, None))
                task_writes[task] = writes
            step_sources = {}
            for task, writes in task_writes.items():
                found = {
                    _Trigger(
                        channel,
                        value is None and (task, channel) in conditionals,
                        conditionals.get((task, channel)) if value is None else None,
                    )
                    for channel, value in writes
                }
                step_sources[task] = found | declared_writes.get(task, set())
            sources.update(step_sources)
            trigger_to_sources: dict[str, set[_Trigger]] = {}
            for src, found in sources.items():
                for channel, cond, label in found:
                    trigger_to_sources.setdefault(channel, set()).add(_Trigger(src, cond, label))
            updated = self._apply(tasks, [x for ws in task_writes.values() for x in ws])
            tasks = self._next_tasks(updated)
            for task in tasks:
                added = False
                for channel in sorted(w.triggers[task]):
                    for src, cond, label in sorted(
                        trigger_to_sources.get(channel, ()), key=_trigger_key
                    ):
                        edges.add(Edge(src, task, cond, label))
                        if _Trigger(channel, cond, label) in step_sources.get(src, ()):
                            added = True
                        else:
                            sources[src].discard(_Trigger(channel, cond, label))
                # Scheduled by nothing of this step (a deferred node): drawn from all of it.
                if not added:
                    for src in step_sources:
                        edges.add(Edge(src, task, True, None))
        return EdgeWalk(edges, first_tasks, list(step_sources))

    def _apply(self, tasks: list[str], writes: list[tuple[str, str | None]]) -> set[str]:
        """Apply one step's writes; return the trigger channels that became available."""
        channels = self.w.channels
        for task in tasks:
            self.seen_versions.setdefault(task, {}).update(
                {c: self.versions[c] for c in self.w.triggers[task] if c in self.versions}
            )
        version = max(self.versions.values(), default=0) + 1
        for channel in {c for task in tasks for c in self.w.triggers[task]}:
            if channels[channel].consume():
                self.versions[channel] = version
        grouped: dict[str, list[str | None]] = {}
        for channel, value in writes:
            grouped.setdefault(channel, []).append(value)
        updated: set[str] = set()
        for channel, values in grouped.items():
            if channel not in channels:  # not a channel of the graph: ignored, as in a run
                continue
            if channels[channel].update(values):
                self.versions[channel] = version
                if channels[channel].available():
                    updated.add(channel)
        if not tasks:  # the input alone: no step to move on from
            return updated
        for channel, chan in channels.items():
            if chan.available() and channel not in updated and chan.update([]):
                self.versions[channel] = version
                if chan.available():
                    updated.add(channel)
        if updated.isdisjoint(self.trigger_to_nodes):
            for channel, chan in channels.items():
                if chan.finish():
                    self.versions[channel] = version
                    if chan.available():
                        updated.add(channel)
        return updated

    def _next_tasks(self, updated: set[str]) -> list[str]:
        if updated:
            candidates: Iterable[str] = sorted(
                {n for c in updated for n in self.trigger_to_nodes.get(c, ())}
            )
        elif not self.versions:
            candidates = ()
        else:
            candidates = self.w.nodes
        return [n for n in candidates if self._triggered(n)]

    def _triggered(self, node: str) -> bool:
        seen = self.seen_versions.get(node)
        for channel in self.w.triggers[node]:
            if not self.w.channels[channel].available():
                continue
            if seen is None or self.versions.get(channel, 0) > seen.get(channel, 0):
                return True
        return False


def _trigger_key(t: _Trigger) -> tuple[str, bool, bool, str]:
    # None sorts before any label (LangGraph never mixes the two on one edge).
    return (t.channel, t.conditional, t.label is not None, t.label or "")


def edge_key(e: Edge) -> tuple[str, str, bool, bool, str]:
    """The order LangGraph adds edges in: sorted by source, target, flag, label."""
    return (e.source, e.target, e.conditional, e.label is not None, e.label or "")
