"""``Pregel.get_graph()``: a low-level graph drawn as LangGraph draws it.

The walk of :mod:`threadloom._engine._draw_walk` runs on the graph's own
channels: each node writes every channel its ``write_to`` steps name, and a
node is drawn after the nodes whose writes trigger it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables.graph import Graph

from threadloom._engine._draw_graph import DrawnGraph, assemble, interrupt_metadata
from threadloom._engine._draw_walk import Wiring, barrier, ephemeral, persistent, walk
from threadloom.channels.barrier import NamedBarrierValue
from threadloom.channels.base import BaseChannel
from threadloom.channels.ephemeral import EphemeralValue
from threadloom.channels.topic import Topic
from threadloom.pregel._node import _OUTPUT, PregelNode, _Writes

__all__ = ["draw_pregel"]


def draw_pregel(
    nodes: Mapping[str, PregelNode],
    channels: Mapping[str, BaseChannel],
    input_channels: str | Sequence[str],
    *,
    interrupt_before: frozenset[str],
    interrupt_after: frozenset[str],
    subgraphs: dict[str, Graph],
) -> DrawnGraph:
    """The drawing of a ``Pregel`` graph's nodes and the edges their channels make."""
    kinds = {name: _kind(channel) for name, channel in channels.items()}
    # Run on no input: a static value is written as it is, the output or a mapped one as None.
    writes = {
        name: [
            (channel, None if value is _OUTPUT or is_mapper else value)
            for step in node.bound
            if isinstance(step, _Writes)
            for channel, value, is_mapper in step
        ]
        for name, node in nodes.items()
    }
    wiring = Wiring(
        nodes=list(nodes),
        # A single input channel receives the input; several take a dict's keys (none here).
        inputs=[(input_channels, None)] if isinstance(input_channels, str) else [],
        triggers={name: list(node.triggers) for name, node in nodes.items()},
        channels=kinds,
        writes=writes,
        declared={name: [] for name in nodes},
        channel_of={},
    )
    drawn = [
        (
            name,
            None,
            {**node.metadata, **interrupt_metadata(name, interrupt_before, interrupt_after)},
        )
        for name, node in nodes.items()
    ]
    return assemble(drawn, walk(wiring), start_is_node=False, subgraphs=subgraphs)


def _kind(channel: BaseChannel) -> Any:
    """How a channel schedules nodes, as LangGraph's channel of the same name does."""
    if isinstance(channel, NamedBarrierValue):
        return barrier(channel.names, deferred=False)
    if isinstance(channel, EphemeralValue) or (
        isinstance(channel, Topic) and not channel.accumulate
    ):
        return ephemeral()
    return persistent()
