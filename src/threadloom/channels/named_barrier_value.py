"""LangGraph's module path for :class:`NamedBarrierValue` (``threadloom.channels.barrier``)."""

from threadloom.channels.barrier import NamedBarrierValue

__all__ = ["NamedBarrierValue"]
