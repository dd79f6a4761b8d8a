"""A channel that schedules one node: set by an edge, cleared when the node runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, ValueChannel

__all__ = ["Trigger"]


class Trigger(ValueChannel):
    """Holds the name of the last node that routed to its target, until the target runs.

    Keeping the mark until it is consumed (rather than for one step) lets a
    deferred node wait for the rest of the graph to finish.

    Example::

        t = Trigger("branch:to:b")
        t.update(["a"])
        assert t.is_available() and t.consume() and not t.is_available()
    """

    __slots__ = ()

    def new(self) -> Trigger:
        """An empty trigger with the same key."""
        return Trigger(self.key)

    def update(self, values: Sequence[Any]) -> bool:
        """Schedule the target (several writers schedule it once)."""
        if not values:
            return False
        self.value = values[-1]
        return True

    def consume(self) -> bool:
        """Clear the mark when the target node runs."""
        if self.value is MISSING:
            return False
        self.value = MISSING
        return True
