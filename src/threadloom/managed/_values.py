"""The managed-value markers: ``Annotated`` metadata that names what the run provides."""

from __future__ import annotations

from typing import Annotated

__all__ = [
    "MANAGERS",
    "IsLastStep",
    "IsLastStepManager",
    "RemainingSteps",
    "RemainingStepsManager",
    "managed_value",
]


class RemainingStepsManager:
    """Marker: the key holds how many supersteps remain before the recursion limit."""


class IsLastStepManager:
    """Marker: the key is ``True`` in the last superstep the recursion limit allows."""


RemainingSteps = Annotated[int, RemainingStepsManager]
"""Steps left before the recursion limit (``remaining_steps: RemainingSteps``)."""

IsLastStep = Annotated[bool, IsLastStepManager]
"""Whether this is the last step the recursion limit allows."""


MANAGERS = frozenset({RemainingStepsManager, IsLastStepManager})
"""The markers the engine fills in."""


def managed_value(manager: type, step: int, stop: int) -> int | bool:
    """The value of ``manager`` in superstep ``step`` of a run whose last allowed step is ``stop``."""
    if manager is RemainingStepsManager:
        return stop - step
    return step == stop - 1
