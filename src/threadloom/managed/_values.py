"""The managed-value markers: ``Annotated`` metadata that names what the run provides."""

from __future__ import annotations

from typing import Annotated

__all__ = ["IsLastStep", "IsLastStepManager", "RemainingSteps", "RemainingStepsManager"]


class RemainingStepsManager:
    """Marker: the key holds how many supersteps remain before the recursion limit."""


class IsLastStepManager:
    """Marker: the key is ``True`` in the last superstep the recursion limit allows."""


RemainingSteps = Annotated[int, RemainingStepsManager]
"""Steps left before the recursion limit (``remaining_steps: RemainingSteps``)."""

IsLastStep = Annotated[bool, IsLastStepManager]
"""Whether this is the last step the recursion limit allows."""
