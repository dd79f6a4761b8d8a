"""A reducer channel checkpointed as a chain of deltas (LangGraph's beta ``DeltaChannel``)."""

from __future__ import annotations

import collections.abc
import copy
import typing
from collections.abc import Callable, Sequence
from typing import Any

from threadloom.channels.base import MISSING, ValueChannel
from threadloom.channels.overwrite import find_overwrite
from threadloom.checkpoint.base import ChannelVersion, DeltaChain, DeltaValue

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
    """A value folded by ``reducer(state, [write, ...])``, saved as the writes since a snapshot.

    The reducer takes the current value and a whole batch of writes, and must
    give the same result however the writes are batched:
    ``reducer(reducer(s, xs), ys) == reducer(s, xs + ys)``, because a thread is
    read back by replaying every write since the last full value in one call.
    With a checkpointer, a step stores only its writes; every
    ``snapshot_frequency``-th step (and after an :class:`~threadloom.types.Overwrite`)
    stores the full value, which bounds the replay. Declare a key with it as
    ``Annotated[list, DeltaChannel(reducer)]`` (the key's type replaces ``typ``).

    Example::

        def extend(state: list, writes: list) -> list:
            return state + [x for w in writes for x in w]

        ch = DeltaChannel(extend, list)
        ch.update([[1], [2, 3]])
        assert ch.get() == [1, 2, 3]
    """

    __slots__ = (
        "_base",
        "_pending",
        "_reset",
        "_steps",
        "reducer",
        "snapshot_frequency",
        "track_delta",
        "typ",
    )

    supports_delta = True

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
        # Delta bookkeeping, used only when a checkpointer is attached.
        self.track_delta = False
        self._pending: list[Any] = []
        self._base: Any = MISSING
        self._steps = 0
        self._reset = False

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

    def _empty_value(self) -> Any:
        return self.typ()

    def update(self, values: Sequence[Any]) -> bool:
        """Fold the step's writes in one reducer call (an ``Overwrite`` replaces the value)."""
        if not values:
            return False
        found, replacement = find_overwrite(self.key, values)
        if found:
            self.value = copy.copy(replacement) if replacement is not None else self._empty_value()
            self._pending = []
            self._reset = True  # a delta cannot express it: the next checkpoint is a snapshot
            return True
        base = self._empty_value() if self.value is MISSING else self.value
        self.value = self.reducer(base, list(values))
        if self.track_delta:
            self._pending.extend(values)
        return True

    def copy(self) -> DeltaChannel:
        """An independent channel with a copy of the value (no delta bookkeeping)."""
        channel = self.new()
        channel.value = self.value if self.value is MISSING else copy.copy(self.value)
        return channel

    def _restore(self, value: Any) -> None:
        if isinstance(value, DeltaChain):
            base = value.snapshot
            if not value.has_snapshot or base is MISSING or base is None:
                base = self._empty_value()
            self.value = self.reducer(base, list(value.writes)) if value.writes else base
            self._steps = value.depth
        else:
            self.value = value

    # --- deltas -------------------------------------------------------------

    def checkpoint_delta(self) -> Any:
        """What to persist after a step that changed the channel: its writes, or a snapshot."""
        if not self.track_delta:
            return self.value
        pending, self._pending = self._pending, []
        if self._base is MISSING or self._reset or self._steps + 1 >= self.snapshot_frequency:
            self._steps = 0
            self._reset = False
            return self.value
        self._steps += 1
        return DeltaValue(base_version=self._base, writes=tuple(pending))

    def mark_saved(self, version: ChannelVersion) -> None:
        """Record that the checkpoint holding ``version`` of this channel was stored."""
        self.track_delta = True
        self._base = version
        self._pending = []
