"""``RemainingSteps`` and ``IsLastStep``: filled in by the run, never state channels."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from typing_extensions import NotRequired, TypedDict

from threadloom.graph import END, START, StateGraph
from threadloom.managed import IsLastStep, RemainingSteps
from threadloom.testing.graph import GraphClient


class State(TypedDict):
    n: int
    remaining: NotRequired[RemainingSteps]
    last: IsLastStep


class Model(BaseModel):
    n: int
    remaining: RemainingSteps = 0


def _looping(schema: Any, seen: list[Any], read: Any) -> Any:
    def node(state: Any) -> dict[str, int]:
        seen.append(read(state))
        n = state["n"] if isinstance(state, dict) else state.n
        return {"n": n + 1}

    builder = StateGraph(schema)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.add_conditional_edges(
        "node", lambda s: END if (s["n"] if isinstance(s, dict) else s.n) >= 3 else "node"
    )
    return builder.compile()


async def test_steps_count_down_to_the_recursion_limit(client: GraphClient) -> None:
    """Each step sees the steps left (its own included) and whether it is the last one."""
    seen: list[Any] = []
    graph = _looping(State, seen, lambda s: (s["remaining"], s["last"]))
    out = await client.invoke(graph, {"n": 0}, {"recursion_limit": 4})  # START is step 0
    assert out == {"n": 3}  # managed keys are not part of the output
    assert seen == [(3, False), (2, False), (1, True)]


async def test_pydantic_state_and_input_cannot_set_it(client: GraphClient) -> None:
    """A pydantic field gets the managed value; a value passed as input is ignored."""
    seen: list[Any] = []
    graph = _looping(Model, seen, lambda s: s.remaining)
    await client.invoke(graph, {"n": 1, "remaining": 99}, {"recursion_limit": 10})
    assert seen == [9, 8]  # START took step 0 of the 10


def test_builder_lists_managed_keys() -> None:
    """``StateGraph.managed`` names the managed keys, wrapped in NotRequired or not."""
    assert set(StateGraph(State).managed) == {"remaining", "last"}
