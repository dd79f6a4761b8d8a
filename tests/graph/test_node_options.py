"""``add_node`` keywords and ``set_node_defaults``."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import GraphBuildError, NodeError
from threadloom.graph import END, START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, RetryPolicy


class State(TypedDict):
    n: int


class Text(TypedDict):
    text: Annotated[str, operator.add]


def _flaky(failures: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def node(state: State) -> State:
        calls.append(1)
        if len(calls) <= failures:
            raise ConnectionError("try again")
        return {"n": state["n"] + 1}

    return calls, node


def _policy(attempts: int) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, initial_interval=0.0, jitter=False)


def test_retry_is_an_alias_of_retry_policy() -> None:
    """``add_node(..., retry=...)`` (the older name) retries like ``retry_policy``."""
    calls, node = _flaky(2)
    builder = StateGraph(State)
    builder.add_node("node", node, retry=_policy(3))
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    assert builder.compile().invoke({"n": 0}) == {"n": 1}
    assert len(calls) == 3


def test_node_defaults_apply_unless_the_node_sets_its_own() -> None:
    """``set_node_defaults(retry_policy=)`` covers nodes without a policy; a node's own wins."""
    calls_a, a = _flaky(1)
    calls_b, b = _flaky(1)
    builder = StateGraph(State).set_node_defaults(retry_policy=_policy(2))
    builder.add_node("a", a)
    builder.add_node("b", b, retry_policy=_policy(1))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    graph = builder.compile()
    with pytest.raises(ConnectionError):
        graph.invoke({"n": 0})
    assert (len(calls_a), len(calls_b)) == (2, 1)


def test_a_sequence_of_retry_policies_uses_the_first_that_matches() -> None:
    """With several policies, the first whose ``retry_on`` matches the error decides."""
    calls, node = _flaky(2)
    never = RetryPolicy(max_attempts=5, retry_on=KeyError)
    builder = StateGraph(State)
    builder.add_node("node", node, retry_policy=[never, _policy(3)])
    builder.add_edge(START, "node")
    assert builder.compile().invoke({"n": 0}) == {"n": 1}
    assert len(calls) == 3


def test_add_node_keywords_and_refusals() -> None:
    """LangGraph's keywords are accepted; unknown ones and bad policies are refused."""
    builder = StateGraph(State)
    builder.add_node(
        "node",
        lambda s: {"n": 1},
        metadata={"k": "v"},
        destinations=("x",),
        defer=False,
        cache_policy=None,
    )
    with pytest.raises(TypeError, match="unexpected"):
        builder.add_node("other", lambda s: s, colour="red")
    with pytest.raises(GraphBuildError):
        builder.add_node("third", lambda s: s, retry_policy="often")


def test_a_state_that_is_one_value() -> None:
    """``StateGraph(list[str])`` and ``StateGraph(Annotated[list, add])``: nodes read and return the value."""
    plain = StateGraph(list[str])
    plain.add_node("shout", lambda items: [i.upper() for i in items])
    plain.add_edge(START, "shout")
    graph = plain.compile()
    assert graph.invoke(["a"]) == ["A"]
    assert list(graph.stream(["b"])) == [{"shout": ["B"]}]

    def mixed(state: list[str]) -> list[object]:
        return [Command(update=["x"]), ["y"]]

    summed = StateGraph(Annotated[list[str], operator.add])
    summed.add_node("mixed", mixed)
    summed.add_edge(START, "mixed")
    assert summed.compile().invoke(["w"]) == ["w", "x", "y"]


def test_a_list_mixing_commands_and_updates() -> None:
    """A node may return commands and plain updates together; they apply in order."""
    builder = StateGraph(Text)
    builder.add_node("node", lambda s: [Command(update={"text": "a"}), {"text": "b"}])
    builder.add_edge(START, "node")
    assert builder.compile().invoke({"text": ""}) == {"text": "ab"}


def test_a_value_as_state_schema_warns() -> None:
    """A state schema that is a value, not a type, draws a UserWarning (as in LangGraph)."""
    with pytest.warns(UserWarning, match="Invalid state_schema"), pytest.raises(GraphBuildError):
        StateGraph({"foo": "bar"})  # type: ignore[arg-type]


def _always_fails(state: State) -> State:
    raise ValueError("broken")


async def test_error_handler_runs_after_retries_and_routes(client: GraphClient) -> None:
    """A node's ``error_handler`` gets the state and a NodeError, and may route with a Command."""
    seen: list[NodeError] = []

    def handler(state: State, error: NodeError) -> Command[str]:
        seen.append(error)
        return Command(update={"n": 100}, goto="after")

    builder = StateGraph(State)
    builder.add_node("fails", _always_fails, retry_policy=_policy(2), error_handler=handler)
    builder.add_node("after", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "fails")
    saver = InMemorySaver()
    graph = builder.compile(checkpointer=saver)
    assert await client.invoke(graph, {"n": 0}, {"configurable": {"thread_id": "h"}}) == {"n": 101}
    assert [(e.node, type(e.error), str(e.error)) for e in seen] == [
        ("fails", ValueError, "broken")
    ]


def test_default_error_handler_and_its_limits() -> None:
    """``set_node_defaults(error_handler=)`` covers nodes without their own; a failing handler fails the run."""
    builder = StateGraph(State).set_node_defaults(
        error_handler=lambda state, error: {"n": len(error.node)}
    )
    builder.add_node("fails", _always_fails)
    builder.add_edge(START, "fails")
    assert builder.compile().invoke({"n": 0}) == {"n": len("fails")}

    def broken_handler(state: State) -> State:
        raise RuntimeError("handler broke")

    failing = StateGraph(State)
    failing.add_node("fails", _always_fails, error_handler=broken_handler)
    failing.add_edge(START, "fails")
    with pytest.raises(RuntimeError, match="handler broke"):
        failing.compile().invoke({"n": 0})


def test_two_nodes_failing_in_one_step_each_reach_the_default_handler() -> None:
    """One default handler serves every failed node of a step, once per node."""
    handled: list[str] = []

    def handler(state: State, error: NodeError) -> None:
        handled.append(error.node)

    builder = StateGraph(State).set_node_defaults(error_handler=handler)
    builder.add_node("a", _always_fails)
    builder.add_node("b", _always_fails)
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    builder.compile().invoke({"n": 0})
    assert sorted(handled) == ["a", "b"]
