"""Checkpoint ids: time-ordered UUIDs (version 6), so ids sort in creation order.

LangGraph users import ``uuid6`` from ``langgraph.checkpoint.base.id``; here it
lives at ``threadloom.checkpoint.id``. Every id a process makes is greater than
the one before, even within one 100 ns tick.

Example::

    from threadloom.checkpoint.id import uuid6

    first, second = uuid6(), uuid6()
    assert first.version == 6 and str(first) < str(second)
"""

from __future__ import annotations

import random
import threading
import time
import uuid

__all__ = ["uuid6"]

_GREGORIAN_OFFSET = 0x01B21DD213814000  # 100 ns intervals from 1582-10-15 to 1970-01-01
_lock = threading.Lock()
_last_ticks = 0


def uuid6(node: int | None = None, clock_seq: int | None = None) -> uuid.UUID:
    """A version 6 UUID of now; ``node`` (48 bits) and ``clock_seq`` (14 bits) random unless given."""
    global _last_ticks
    with _lock:
        ticks = time.time_ns() // 100 + _GREGORIAN_OFFSET
        if ticks <= _last_ticks:
            ticks = _last_ticks + 1
        _last_ticks = ticks
    if clock_seq is None:
        clock_seq = random.getrandbits(14)
    if node is None:
        node = random.getrandbits(48)
    value = (
        ((ticks >> 12) & 0xFFFFFFFFFFFF) << 80
        | 0x6 << 76  # the version; uuid.UUID(version=6) is refused before Python 3.14
        | (ticks & 0xFFF) << 64
        | 0b10 << 62  # the RFC 4122 variant
        | (clock_seq & 0x3FFF) << 48
        | (node & 0xFFFFFFFFFFFF)
    )
    return uuid.UUID(int=value)
