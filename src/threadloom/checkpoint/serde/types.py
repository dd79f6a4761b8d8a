"""Names stored checkpoints use for special writes, and the shape of a ``Send`` (LangGraph's ``serde.types``)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from threadloom.checkpoint.base import ERROR, INTERRUPT, RESUME, SCHEDULED
from threadloom.checkpoint.base._core import TASKS

__all__ = ["ERROR", "INTERRUPT", "RESUME", "SCHEDULED", "TASKS", "SendProtocol"]


@runtime_checkable
class SendProtocol(Protocol):
    """What :class:`threadloom.types.Send` looks like to code that only reads checkpoints."""

    node: str
    arg: Any
