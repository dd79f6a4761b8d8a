"""A channel that keeps any one of a step's writes, assuming they are all equal."""

from __future__ import annotations

from typing import Any

from threadloom.channels.ephemeral import EphemeralValue

__all__ = ["AnyValue"]


class AnyValue(EphemeralValue):
    """Holds the last value written in the previous step; a step without writes clears it.

    Unlike :class:`LastValue`, several writes in one step are allowed (the
    last is kept): use it where every writer writes the same value. It is an
    unguarded :class:`EphemeralValue`, as LangGraph's behaves.

    Example::

        ch = AnyValue(int, key="done")
        ch.update([1, 1])
        assert ch.get() == 1
        ch.update([])
        assert not ch.is_available()
    """

    __slots__ = ()

    def __init__(self, typ: Any = Any, *, key: str = "") -> None:
        super().__init__(typ, guard=False, key=key)

    def new(self) -> AnyValue:
        """An empty channel with the same type and key."""
        return AnyValue(self.typ, key=self.key)
