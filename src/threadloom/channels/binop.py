"""A channel that folds every write into its value with a reducer."""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

from threadloom.channels.base import MISSING, BaseChannel, shallow_copy
from threadloom.channels.overwrite import find_overwrite

__all__ = ["BinaryOperatorAggregate", "initial_value"]


def initial_value(typ: Any) -> Any:
    """The empty value of a concrete type (``list`` -> ``[]``, ``int`` -> ``0``), else MISSING."""
    origin = typing.get_origin(typ) or typ
    if origin is typing.Annotated:
        origin = typing.get_origin(typing.get_args(typ)[0]) or typing.get_args(typ)[0]
    if isinstance(origin, type) and origin.__module__ == "builtins":
        try:
            return origin()
        except Exception:
            return MISSING
    return MISSING


def _is_type(value: Any) -> bool:
    return (
        value is None
        or value is Any
        or isinstance(value, type)
        or typing.get_origin(value) is not None
    )


def _is_reducer_first(first: Any, second: Any) -> bool:
    return callable(first) and not _is_type(first) and _is_type(second)


class BinaryOperatorAggregate(BaseChannel):
    """Holds ``reducer(reducer(value, w1), w2)...`` over all writes received.

    The channel starts from the empty value of its type when the type has one
    (``list`` starts as ``[]``), like a fold with an identity element.

    Example::

        import operator
        ch = BinaryOperatorAggregate(list, operator.add, key="items")
        ch.update([[1], [2]])
        assert ch.get() == [1, 2]
    """

    __slots__ = ("reducer", "typ", "value")

    def __init__(
        self, typ: Any, operator: Callable[[Any, Any], Any] | Any = None, key: str = ""
    ) -> None:
        if _is_reducer_first(typ, operator):  # the older (reducer, type) order
            typ, operator = operator, typ
        reducer: Callable[[Any, Any], Any] = operator
        super().__init__(key)
        self.reducer = reducer
        self.typ = typ
        self.value: Any = initial_value(typ)

    def new(self) -> BinaryOperatorAggregate:
        """An empty channel with the same reducer."""
        return BinaryOperatorAggregate(self.typ, self.reducer, self.key)

    def get(self) -> Any:
        """The folded value (a shallow copy of a list, dict or set)."""
        if self.value is MISSING:
            raise self._empty()
        return shallow_copy(self.value)

    def is_available(self) -> bool:
        """Whether there is a value (an initial one counts)."""
        return self.value is not MISSING

    def update(self, values: Sequence[Any]) -> bool:
        """Fold the writes of one step, in order (an ``Overwrite`` replaces the value instead)."""
        if not values:
            return False
        found, replacement = find_overwrite(self.key, values)
        if found:
            self.value = replacement
            return True
        reducer = self.reducer
        start = 0
        value = self.value
        if value is MISSING:
            value = values[0]
            start = 1
        for write in values[start:]:
            value = reducer(value, write)
        self.value = value
        return True

    def checkpoint(self) -> Any:
        """The folded value."""
        return self.value

    def _restore(self, value: Any) -> None:
        self.value = value
