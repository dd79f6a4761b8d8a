"""Names stored checkpoints use for special writes, and the shape of a ``Send`` (LangGraph's ``serde.types``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from threadloom.checkpoint.base import ERROR, INTERRUPT, RESUME, SCHEDULED

__all__ = ["ERROR", "INTERRUPT", "RESUME", "SCHEDULED", "SendProtocol"]


@runtime_checkable
class SendProtocol(Protocol):
    """What :class:`threadloom.types.Send` looks like to code that only reads checkpoints."""

    node: str
    arg: Any
