"""A channel that schedules one node: set by an edge, cleared when the node runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel

__all__ = ["Trigger"]


class Trigger(BaseChannel):
    """Holds the name of the last node that routed to its target, until the target runs.

    Keeping the mark until it is consumed (rather than for one step) lets a
    deferred node wait for the rest of the graph to finish.

    Example::

        t = Trigger("branch:to:b")
        t.update(["a"])
        assert t.is_available() and t.consume() and not t.is_available()
    """

    __slots__ = ("value",)

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self.value: Any = MISSING

    def new(self) -> Trigger:
        """An empty trigger with the same key."""
        return Trigger(self.key)

    def get(self) -> Any:
        """The node that set the trigger."""
        if self.value is MISSING:
            raise self._empty()
        return self.value

    def is_available(self) -> bool:
        """Whether the target node is scheduled."""
        return self.value is not MISSING

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

    def checkpoint(self) -> Any:
        """The mark, or MISSING."""
        return self.value

    def _restore(self, value: Any) -> None:
        self.value = value
