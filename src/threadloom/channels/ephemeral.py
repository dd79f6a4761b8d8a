"""A channel whose value lives for one step only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, ValueChannel, split_key
from threadloom.errors import InvalidUpdateError

__all__ = ["EphemeralValue"]


class EphemeralValue(ValueChannel):
    """Holds the value written in the previous step and forgets it after a step without writes.

    Example::

        ch = EphemeralValue(str, key="signal")
        ch.update(["go"])
        assert ch.get() == "go"
        ch.update([])
        assert not ch.is_available()
    """

    __slots__ = ("guard", "typ")

    ephemeral = True

    def __init__(self, typ: Any = Any, guard: bool = True, *, key: str = "") -> None:
        typ, key = split_key(typ, key)
        super().__init__(key)
        self.typ = typ
        self.guard = guard

    def new(self) -> EphemeralValue:
        """An empty channel with the same settings."""
        return EphemeralValue(self.typ, self.guard, key=self.key)

    def update(self, values: Sequence[Any]) -> bool:
        """Keep this step's value, or forget the old one when nothing was written."""
        if not values:
            if self.value is MISSING:
                return False
            self.value = MISSING
            return True
        if self.guard and len(values) != 1:
            raise InvalidUpdateError(
                f"ephemeral channel '{self.key}' received {len(values)} values in one step"
            )
        self.value = values[-1]
        return True
