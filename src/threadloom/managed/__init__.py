"""State annotations whose values the run manages: ``RemainingSteps`` and ``IsLastStep``.

Declare them on a state schema the way LangGraph programs do::

    from typing import TypedDict
    from threadloom.managed import RemainingSteps

    class State(TypedDict):
        remaining_steps: RemainingSteps

The engine does not fill them in yet: a node reads ``None`` (or the default
of a pydantic field) until it does, and code that reads them must allow that.
"""

from threadloom.managed._values import (
    IsLastStep,
    IsLastStepManager,
    RemainingSteps,
    RemainingStepsManager,
)

__all__ = ["IsLastStep", "IsLastStepManager", "RemainingSteps", "RemainingStepsManager"]
