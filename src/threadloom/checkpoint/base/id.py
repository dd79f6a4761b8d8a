"""``uuid6`` where LangGraph keeps it (``langgraph.checkpoint.base.id``); it lives in
:mod:`threadloom.checkpoint.id`.

Example::

    from threadloom.checkpoint.base.id import uuid6

    assert uuid6().version == 6
"""

from threadloom.checkpoint.id import uuid6

__all__ = ["uuid6"]
