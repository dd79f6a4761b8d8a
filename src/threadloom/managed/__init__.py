"""State annotations whose values the run manages: ``RemainingSteps`` and ``IsLastStep``.

Declare them on a state schema the way LangGraph programs do::

    from typing import TypedDict
    from threadloom.managed import RemainingSteps

    class State(TypedDict):
        remaining_steps: RemainingSteps

The run fills them in for each node: ``RemainingSteps`` counts the supersteps
left before the recursion limit (the current one included), ``IsLastStep`` is
``True`` in the last one. They are not state channels: nodes cannot write them
and they are not part of the output.
"""

from threadloom.managed._values import (
    IsLastStep,
    IsLastStepManager,
    RemainingSteps,
    RemainingStepsManager,
)

__all__ = ["IsLastStep", "IsLastStepManager", "RemainingSteps", "RemainingStepsManager"]
