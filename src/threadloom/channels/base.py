"""The channel contract: how one state key (or trigger) receives its writes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, TypeVar

from threadloom.errors import EmptyChannelError

__all__ = ["MISSING", "BaseChannel", "ValueChannel", "shallow_copy", "split_key"]


class _Missing:
    """Marker for "no value" where ``None`` is a legitimate value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

_CONTAINERS = (list, dict, set)


def shallow_copy(value: Any) -> Any:
    """A copy of a plain list, dict or set; other values as they are.

    Channels hand out copies so that a node appending to or assigning into a
    value it read does not change the state behind the engine's back (the
    state kept in memory between runs must equal the checkpointed one).
    """
    return value.copy() if type(value) in _CONTAINERS else value


Self = TypeVar("Self", bound="BaseChannel")


class BaseChannel(ABC):
    """A container for one value that changes only through :meth:`update`.

    The engine collects the writes of a superstep per channel and hands them
    over in one call, so a channel decides how concurrent writes combine.
    """

    __slots__ = ("key",)

    #: True for channels that may be checkpointed as a delta of writes.
    supports_delta: bool = False
    #: True for channels that forget their value after a step without writes.
    ephemeral: bool = False
    #: True for channels whose value is never persisted (nor sent inside stored ``Send`` packets).
    untracked: bool = False

    def __init__(self, key: str = "") -> None:
        self.key = key

    @property
    def ValueType(self) -> Any:
        """The type of the value :meth:`get` returns (the channel's declared type)."""
        return getattr(self, "typ", Any)

    @property
    def UpdateType(self) -> Any:
        """The type of one write :meth:`update` accepts."""
        return self.ValueType

    @abstractmethod
    def new(self: Self) -> Self:
        """An empty channel configured like this one."""

    @abstractmethod
    def get(self) -> Any:
        """The current value; raises :class:`EmptyChannelError` when there is none."""

    @abstractmethod
    def is_available(self) -> bool:
        """Whether :meth:`get` would return a value."""

    @abstractmethod
    def update(self, values: Sequence[Any]) -> bool:
        """Apply the writes of one step; return whether the channel changed."""

    @abstractmethod
    def checkpoint(self) -> Any:
        """A value to persist (``MISSING`` when empty); :meth:`from_checkpoint` restores it."""

    def from_checkpoint(self: Self, value: Any) -> Self:
        """A new channel holding ``value`` as returned by :meth:`checkpoint`."""
        channel = self.new()
        if value is not MISSING:
            channel._restore(value)
        return channel

    def _restore(self, value: Any) -> None:
        raise NotImplementedError

    def copy(self: Self) -> Self:
        """An independent channel with the same value."""
        return self.from_checkpoint(self.checkpoint())

    def consume(self) -> bool:
        """Called when a node triggered by this channel runs; return whether it changed."""
        return False

    def _empty(self) -> EmptyChannelError:
        return EmptyChannelError(f"channel '{self.key}' holds no value yet")

    def __repr__(self) -> str:
        value = self.checkpoint()
        return f"{type(self).__name__}({self.key!r}, {value!r})"


class ValueChannel(BaseChannel):
    """A channel holding one value in ``value`` (``MISSING`` when empty), saved as it is.

    Subclasses decide how writes change it (:meth:`update`) and how to make an
    empty twin (:meth:`new`).
    """

    __slots__ = ("value",)

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self.value: Any = MISSING

    def get(self) -> Any:
        """The value; raises :class:`EmptyChannelError` when there is none."""
        if self.value is MISSING:
            raise self._empty()
        return self.value

    def is_available(self) -> bool:
        """Whether a value is held."""
        return self.value is not MISSING

    def checkpoint(self) -> Any:
        """The value, or MISSING."""
        return self.value

    def _restore(self, value: Any) -> None:
        self.value = value


def split_key(typ: Any, key: str) -> tuple[Any, str]:
    """``(type, key)`` of a channel constructor: a string first argument is the key (older spelling)."""
    if isinstance(typ, str) and not key:
        return Any, typ
    return typ, key
