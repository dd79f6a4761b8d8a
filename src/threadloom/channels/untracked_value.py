"""A channel whose value lives only in the running process: never checkpointed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadloom.channels.base import MISSING, ValueChannel, split_key
from threadloom.errors import InvalidUpdateError

__all__ = ["UntrackedValue"]


class UntrackedValue(ValueChannel):
    """Keeps the last value written, like :class:`LastValue`, but never saves it.

    For values that cannot or must not be stored (a session, a lock, a
    client): nodes of the same run see them; a checkpoint, the pending writes
    and the ``Send`` packets a checkpoint holds leave them out, so a resumed
    or later run starts without them. Declare a key with it as
    ``Annotated[T, UntrackedValue]``. With ``guard=True`` (the default) two
    writes in one step are an :class:`~threadloom.errors.InvalidUpdateError`;
    with ``guard=False`` the last one wins.

    Example::

        ch = UntrackedValue(object, key="session")
        ch.update(["live"])
        assert ch.get() == "live"
        assert not ch.from_checkpoint(ch.checkpoint()).is_available()
    """

    __slots__ = ("guard", "typ")

    untracked = True

    def __init__(self, typ: Any = Any, guard: bool = True, *, key: str = "") -> None:
        typ, key = split_key(typ, key)
        super().__init__(key)
        self.typ = typ
        self.guard = guard

    def new(self) -> UntrackedValue:
        """An empty channel with the same settings."""
        return UntrackedValue(self.typ, self.guard, key=self.key)

    def update(self, values: Sequence[Any]) -> bool:
        """Keep the step's value (the last one when ``guard=False``)."""
        if not values:
            return False
        if self.guard and len(values) != 1:
            raise InvalidUpdateError(
                f"At key '{self.key}': UntrackedValue(guard=True) can receive only one value "
                "per step. Use guard=False if you want to store any one of multiple values."
            )
        self.value = values[-1]
        return True

    def checkpoint(self) -> Any:
        """Always MISSING: the value is never persisted."""
        return MISSING

    def copy(self) -> UntrackedValue:
        """An independent channel holding the same live value."""
        channel = self.new()
        channel.value = self.value
        return channel

    def _restore(self, value: Any) -> None:
        pass  # nothing was stored
