"""Time limits of an async node or task attempt (:class:`~threadloom.types.TimeoutPolicy`).

The attempt runs as its own asyncio task so that it can be cancelled when a
limit passes. Progress (``runtime.heartbeat()``, and custom stream writes under
``refresh_on="auto"``) moves the idle deadline through a context variable that
the attempt's task inherits.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Coroutine
from typing import Any

from threadloom.errors import NodeTimeoutError
from threadloom.types import TimeoutPolicy

__all__ = ["guarded", "heartbeat", "progress"]


class _Clock:
    __slots__ = ("auto", "last")

    def __init__(self, auto: bool) -> None:
        self.auto = auto
        self.last = time.monotonic()


_CLOCK: contextvars.ContextVar[_Clock | None] = contextvars.ContextVar(
    "threadloom_timeout_clock", default=None
)


def heartbeat() -> None:
    """Record progress of the running attempt (a no-op outside a timed attempt)."""
    clock = _CLOCK.get()
    if clock is not None:
        clock.last = time.monotonic()


def progress() -> None:
    """Record an automatic progress signal (counts only under ``refresh_on="auto"``)."""
    clock = _CLOCK.get()
    if clock is not None and clock.auto:
        clock.last = time.monotonic()


async def guarded(name: str, policy: TimeoutPolicy, work: Coroutine[Any, Any, Any]) -> Any:
    """Await ``work`` under ``policy``; cancel it and raise :class:`NodeTimeoutError` past a limit."""
    clock = _Clock(policy.refresh_on == "auto")
    token = _CLOCK.set(clock)
    try:
        attempt = asyncio.ensure_future(work)  # inherits the clock through the context copy
    finally:
        _CLOCK.reset(token)
    run_limit: Any = policy.run_timeout
    idle_limit: Any = policy.idle_timeout
    start = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            waits = []
            if run_limit is not None:
                waits.append((start + run_limit - now, "run"))
            if idle_limit is not None:
                waits.append((clock.last + idle_limit - now, "idle"))
            remaining, kind = min(waits)
            if remaining <= 0:
                attempt.cancel()
                await asyncio.gather(attempt, return_exceptions=True)
                raise NodeTimeoutError(
                    name,
                    now - start,
                    kind=kind,
                    idle_timeout=idle_limit,
                    run_timeout=run_limit,
                )
            done, _ = await asyncio.wait({attempt}, timeout=remaining)
            if done:
                return attempt.result()
    except asyncio.CancelledError:
        attempt.cancel()
        raise
