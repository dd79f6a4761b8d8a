"""A channel that keeps any one of a step's writes, assuming they are all equal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel, split_key

__all__ = ["AnyValue"]


class AnyValue(BaseChannel):
    """Holds the last value written in the previous step; a step without writes clears it.

    Unlike :class:`LastValue`, several writes in one step are allowed (the
    last is kept): use it where every writer writes the same value.

    Example::

        ch = AnyValue(int, key="done")
        ch.update([1, 1])
        assert ch.get() == 1
        ch.update([])
        assert not ch.is_available()
    """

    __slots__ = ("typ", "value")

    # Cleared by a step without writes, as LangGraph's is.
    ephemeral = True

    def __init__(self, typ: Any = Any, *, key: str = "") -> None:
        typ, key = split_key(typ, key)
        super().__init__(key)
        self.typ = typ
        self.value: Any = MISSING

    def new(self) -> AnyValue:
        """An empty channel with the same type and key."""
        return AnyValue(self.typ, key=self.key)

    def get(self) -> Any:
        """The value of the previous step."""
        if self.value is MISSING:
            raise self._empty()
        return self.value

    def is_available(self) -> bool:
        """Whether the previous step wrote a value."""
        return self.value is not MISSING

    def update(self, values: Sequence[Any]) -> bool:
        """Keep the step's last write, or clear the value when nothing was written."""
        if not values:
            if self.value is MISSING:
                return False
            self.value = MISSING
            return True
        self.value = values[-1]
        return True

    def checkpoint(self) -> Any:
        """The value, or MISSING."""
        return self.value

    def _restore(self, value: Any) -> None:
        self.value = value
