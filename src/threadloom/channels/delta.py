"""LangGraph's beta ``DeltaChannel``: a reducer that folds a whole step's writes in one call."""

from __future__ import annotations

import collections.abc
import copy
import typing
from collections.abc import Callable, Sequence
from typing import Any

from threadloom.channels.base import MISSING, ValueChannel
from threadloom.channels.overwrite import find_overwrite

__all__ = ["DeltaChannel"]

_CONCRETE = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}


def _concrete(typ: Any) -> Any:
    typ = typing.get_origin(typ) or typ
    return _CONCRETE.get(typ, typ)


class DeltaChannel(ValueChannel):
    """A value folded by ``reducer(state, [write, ...])``: one call per step, all its writes.

    The reducer must give the same result however the writes are batched:
    ``reducer(reducer(s, xs), ys) == reducer(s, xs + ys)``. An
    :class:`~threadloom.types.Overwrite` replaces the value. Declare a key with
    it as ``Annotated[list, DeltaChannel(reducer)]`` (the key's type replaces
    ``typ``). LangGraph stores such a key as the writes since a snapshot; in
    threadloom its checkpoints hold the value (the ``add_messages`` keys are
    the ones threadloom stores as deltas), and ``snapshot_frequency`` is
    accepted and checked.

    Example::

        def extend(state: list, writes: list) -> list:
            return state + [x for w in writes for x in w]

        ch = DeltaChannel(extend, list)
        ch.update([[1], [2, 3]])
        assert ch.get() == [1, 2, 3]
    """

    __slots__ = ("reducer", "snapshot_frequency", "typ")

    def __init__(
        self,
        reducer: Callable[[Any, Sequence[Any]], Any],
        typ: Any = None,
        *,
        snapshot_frequency: int = 1000,
        key: str = "",
    ) -> None:
        if (
            not isinstance(snapshot_frequency, int)
            or isinstance(snapshot_frequency, bool)
            or snapshot_frequency <= 0
        ):
            raise ValueError(
                f"snapshot_frequency must be a positive int, got {snapshot_frequency!r}"
            )
        super().__init__(key)
        self.reducer = reducer
        self.typ = _concrete(list if typ is None else typ)
        self.snapshot_frequency = snapshot_frequency

    def new(self) -> DeltaChannel:
        """An empty channel with the same reducer, type and cadence."""
        return DeltaChannel(
            self.reducer, self.typ, snapshot_frequency=self.snapshot_frequency, key=self.key
        )

    def for_type(self, typ: Any) -> DeltaChannel:
        """This channel for a key of type ``typ`` (``Annotated[list[str], DeltaChannel(f)]``)."""
        return DeltaChannel(
            self.reducer, typ, snapshot_frequency=self.snapshot_frequency, key=self.key
        )

    def update(self, values: Sequence[Any]) -> bool:
        """Fold the step's writes in one reducer call (an ``Overwrite`` replaces the value)."""
        if not values:
            return False
        found, replacement = find_overwrite(self.key, values)
        if found:
            self.value = copy.copy(replacement) if replacement is not None else self.typ()
            return True
        base = self.typ() if self.value is MISSING else self.value
        self.value = self.reducer(base, list(values))
        return True

    def replay_writes(self, writes: Sequence[tuple[str, str, Any]]) -> None:
        """Apply saved writes ``(task_id, channel, value)`` in order, on top of the value the
        channel holds (LangGraph rebuilds a delta channel from a seed and its writes this way)."""
        for _, _, value in writes:
            self.update([value])

    def copy(self) -> DeltaChannel:
        """An independent channel with a copy of the value."""
        channel = self.new()
        channel.value = self.value if self.value is MISSING else copy.copy(self.value)
        return channel
