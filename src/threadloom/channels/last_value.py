"""The default channel: keeps the last value written, one write per step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel, shallow_copy, split_key
from threadloom.errors import InvalidUpdateError

__all__ = ["LastValue"]


class LastValue(BaseChannel):
    """Holds the last value written; two writes in one step are an error.

    Example::

        ch = LastValue(int, key="x")
        ch.update([1])
        assert ch.get() == 1
    """

    __slots__ = ("typ", "value")

    def __init__(self, typ: Any = Any, key: str = "") -> None:
        typ, key = split_key(typ, key)
        super().__init__(key)
        self.typ = typ
        self.value: Any = MISSING

    def new(self) -> LastValue:
        """An empty channel with the same type and key."""
        return LastValue(self.typ, self.key)

    def get(self) -> Any:
        """The last value written (a shallow copy of a list, dict or set)."""
        if self.value is MISSING:
            raise self._empty()
        return shallow_copy(self.value)

    def is_available(self) -> bool:
        """Whether a value was ever written."""
        return self.value is not MISSING

    def update(self, values: Sequence[Any]) -> bool:
        """Keep the single value of this step; more than one is ambiguous."""
        if not values:
            return False
        if len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': Can receive only one value per step. Use an Annotated "
                f"key to handle multiple values. (It received {len(values)}: give it a reducer "
                "with Annotated[type, reducer] to combine concurrent writes.)"
            )
        self.value = values[0]
        return True

    def checkpoint(self) -> Any:
        """The value itself."""
        return self.value

    def _restore(self, value: Any) -> None:
        self.value = value
