"""A channel that collects every write of a step as a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel, split_key

__all__ = ["Topic"]


class Topic(BaseChannel):
    """Collects written values (lists are flattened) until consumed.

    With ``accumulate=False`` (the default) a step's writes replace the
    previous step's; with ``accumulate=True`` they pile up until
    :meth:`consume` empties the topic.

    Example::

        t = Topic(str, key="events")
        t.update(["a", ["b", "c"]])
        assert t.get() == ["a", "b", "c"]
    """

    __slots__ = ("accumulate", "typ", "values")

    def __init__(self, typ: Any = Any, accumulate: bool = False, *, key: str = "") -> None:
        typ, key = split_key(typ, key)
        super().__init__(key)
        self.typ = typ
        self.accumulate = accumulate
        self.values: list[Any] = []

    @property
    def ValueType(self) -> Any:
        """A sequence of the declared type: the values collected."""
        return Sequence[self.typ]  # type: ignore[name-defined]

    @property
    def UpdateType(self) -> Any:
        """One value, or a list of them."""
        return self.typ | list[self.typ]  # type: ignore[name-defined]

    def new(self) -> Topic:
        """An empty topic with the same settings."""
        return Topic(self.typ, self.accumulate, key=self.key)

    def get(self) -> list[Any]:
        """The collected values, oldest first."""
        if not self.values:
            raise self._empty()
        return list(self.values)

    def is_available(self) -> bool:
        """Whether any value is held."""
        return bool(self.values)

    def update(self, values: Sequence[Any]) -> bool:
        """Append this step's writes (replacing the old ones unless accumulating)."""
        changed = False
        if not self.accumulate and self.values:
            self.values = []
            changed = True
        for value in values:
            if isinstance(value, list):
                self.values.extend(value)
            else:
                self.values.append(value)
            changed = True
        return changed

    def consume(self) -> bool:
        """Empty the topic once its values were delivered."""
        if self.values:
            self.values = []
            return True
        return False

    def checkpoint(self) -> Any:
        """A copy of the values, or MISSING when empty."""
        return list(self.values) if self.values else MISSING

    def _restore(self, value: Any) -> None:
        self.values = list(value)
