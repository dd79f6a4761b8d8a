"""LangGraph's module path for :class:`EphemeralValue` (``threadloom.channels.ephemeral``)."""

from threadloom.channels.ephemeral import EphemeralValue

__all__ = ["EphemeralValue"]
