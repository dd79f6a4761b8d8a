"""Time limits: of an async node or task attempt (:class:`~threadloom.types.TimeoutPolicy`),
and of a whole step (the graph's ``step_timeout``, enforced by the drivers).

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
from typing import TYPE_CHECKING, Any

from threadloom.errors import InvalidOptionError, NodeTimeoutError, StepTimeoutError
from threadloom.types import TimeoutPolicy

if TYPE_CHECKING:
    from threadloom._engine._context import Task

__all__ = ["guarded", "heartbeat", "progress", "step_deadline", "time_out"]


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


# --- the graph's step_timeout ----------------------------------------------------------


def step_deadline(tasks: list[Task]) -> float | None:
    """When the step of ``tasks`` must be over (``time.monotonic()``), or ``None``: no limit."""
    limit = tasks[0].run.graph.step_timeout
    if limit is None or limit == 0:  # 0 means no limit, as in LangGraph
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise InvalidOptionError(f"step_timeout must be a positive number of seconds, got {limit!r}")
    return time.monotonic() + limit


def time_out(late: list[Task]) -> None:
    """Record on each task still running at the deadline that the step timed out: the step
    then fails with that error, after saving the writes of the tasks that finished."""
    error = StepTimeoutError(late[0].run.graph.step_timeout or 0.0, [t.name for t in late])
    for task in late:
        task.error = error
