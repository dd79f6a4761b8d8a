"""A channel that waits until every one of a set of named writers has written."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel
from threadloom.errors import InvalidUpdateError

__all__ = ["NamedBarrierValue"]


class NamedBarrierValue(BaseChannel):
    """Becomes available once all ``names`` have written; consumed when its node runs.

    This is how ``add_edge(["a", "b"], "c")`` makes ``c`` wait for both.

    Example::

        b = NamedBarrierValue({"a", "b"}, "join")
        b.update(["a"])
        assert not b.is_available()
        b.update(["b"])
        assert b.is_available()
        assert NamedBarrierValue(str, {"a", "b"}).names == {"a", "b"}  # LangGraph's order
    """

    __slots__ = ("names", "seen")

    def __init__(self, names: Iterable[str] | Any, key: str | Iterable[str] = "") -> None:
        # LangGraph's order is (type, names): a second argument that is not text holds the names.
        if not isinstance(key, str):
            names, key = key, ""
        super().__init__(key)
        self.names = frozenset(names)
        self.seen: set[str] = set()

    def new(self) -> NamedBarrierValue:
        """An empty barrier over the same names."""
        return NamedBarrierValue(self.names, self.key)

    def get(self) -> None:
        """``None`` once complete; raises while still waiting."""
        if self.seen != self.names:
            raise self._empty()
        return None

    def is_available(self) -> bool:
        """Whether every name has written."""
        return self.seen == self.names

    def update(self, values: Sequence[Any]) -> bool:
        """Record which writers have arrived."""
        changed = False
        for name in values:
            if name not in self.names:
                raise InvalidUpdateError(
                    f"'{name}' is not one of the sources {sorted(self.names)} of '{self.key}'"
                )
            if name not in self.seen:
                self.seen.add(name)
                changed = True
        return changed

    def consume(self) -> bool:
        """Reset once the waiting node runs."""
        if self.seen == self.names:
            self.seen = set()
            return True
        return False

    def checkpoint(self) -> Any:
        """The names seen so far, or MISSING."""
        return set(self.seen) if self.seen else MISSING

    def _restore(self, value: Any) -> None:
        self.seen = set(value)
