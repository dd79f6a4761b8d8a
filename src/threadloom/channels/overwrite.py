"""``Overwrite``: a write that replaces a reducer channel's value instead of folding into it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadloom.errors import InvalidUpdateError

__all__ = ["OVERWRITE", "Overwrite", "find_overwrite", "overwrite_value"]

OVERWRITE = "__overwrite__"
"""``{"__overwrite__": value}`` is the JSON spelling of ``Overwrite(value)``."""


@dataclass(frozen=True)
class Overwrite:
    """Bypass a key's reducer: the key takes ``value`` as it is.

    At most one ``Overwrite`` per key may arrive in one step (two are an
    :class:`~threadloom.errors.InvalidUpdateError`); the other writes to the
    key in that step are discarded, as in LangGraph.

    Example::

        import operator
        from typing import Annotated
        from typing_extensions import TypedDict
        from threadloom.graph import StateGraph, START
        from threadloom.types import Overwrite

        class State(TypedDict):
            items: Annotated[list, operator.add]

        builder = StateGraph(State)
        builder.add_node("reset", lambda s: {"items": Overwrite(["fresh"])})
        builder.add_edge(START, "reset")
        assert builder.compile().invoke({"items": ["old"]}) == {"items": ["fresh"]}
    """

    value: Any


def overwrite_value(write: Any) -> tuple[bool, Any]:
    """``(True, value)`` when ``write`` is an overwrite in any of its spellings, else ``(False, None)``.

    The spellings are :class:`Overwrite`, ``{"__overwrite__": value}`` and the
    shape an ``Overwrite`` takes after a JSON round trip,
    ``{"type": "__overwrite__", "value": value}``.
    """
    if isinstance(write, Overwrite):
        return True, write.value
    if type(write) is dict:
        if len(write) == 1 and OVERWRITE in write:
            return True, write[OVERWRITE]
        if write.get("type") == OVERWRITE and "value" in write:
            return True, write["value"]
    return False, None


def find_overwrite(key: str, writes: Any) -> tuple[bool, Any]:
    """``(found, value)``: the one overwrite among a step's writes to ``key``.

    A second overwrite in the same step is an :class:`InvalidUpdateError`.
    """
    found = False
    value: Any = None
    for write in writes:
        is_overwrite, new = overwrite_value(write)
        if is_overwrite:
            if found:
                raise InvalidUpdateError(
                    f"Can receive only one Overwrite value per super-step. (key '{key}')"
                )
            found, value = True, new
    return found, value
