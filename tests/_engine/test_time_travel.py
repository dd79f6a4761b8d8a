"""Time travel as LangGraph records it: replay forks, and update_state's special ``as_node`` names."""

from __future__ import annotations

import itertools
import operator
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.errors import InvalidUpdateError
from threadloom.graph import END, START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, interrupt


class State(TypedDict):
    value: Annotated[list[str], operator.add]


CFG = {"configurable": {"thread_id": "1"}}


def _graph(saver: Any, calls: list[str], *, ask: bool = False) -> Any:
    """START -> a -> [ask ->] b -> END; each node logs its name into ``calls``."""

    def node(name: str) -> Any:
        def run(state: State) -> dict:
            calls.append(name)
            if name == "ask":
                return {"value": [f"human:{interrupt('your input?')}"]}
            return {"value": [name]}

        return run

    names = ["a", "ask", "b"] if ask else ["a", "b"]
    builder = StateGraph(State)
    for name in names:
        builder.add_node(name, node(name))
    builder.add_edge(START, names[0])
    for first, second in itertools.pairwise(names):
        builder.add_edge(first, second)
    return builder.compile(checkpointer=saver)


async def _history(client: GraphClient, graph: Any) -> list[Any]:
    return await client.get_state_history(graph, CFG)


def _summary(history: list[Any]) -> list[tuple[str, int, tuple[str, ...]]]:
    return [(s.metadata["source"], s.metadata["step"], s.next) for s in history]


async def test_replay_before_an_interrupt_forks_and_asks_again(
    client: GraphClient, saver: Any
) -> None:
    """Replaying a past checkpoint saves a fork of it; its task runs (and interrupts) again."""
    calls: list[str] = []
    graph = _graph(saver, calls, ask=True)
    await client.invoke(graph, {"value": []}, CFG)
    await client.invoke(graph, Command(resume="old"), CFG)
    original = await _history(client, graph)
    assert _summary(original) == [
        ("loop", 3, ()),
        ("loop", 2, ("b",)),
        ("loop", 1, ("ask",)),
        ("loop", 0, ("a",)),
        ("input", -1, ("__start__",)),
    ]
    branch = original[2]
    calls.clear()
    out = await client.invoke(graph, None, branch.config)
    assert out["__interrupt__"][0].value == "your input?"
    assert calls == ["ask"]
    after = await _history(client, graph)
    assert _summary(after)[0] == ("fork", 2, ("ask",))
    assert after[0].parent_config == branch.config
    assert after[0].values == {"value": ["a"]}
    assert after[1:] == original  # the old branch is kept as it was
    final = await client.invoke(graph, Command(resume="new"), CFG)
    assert final == {"value": ["a", "human:new", "b"]}


async def test_replay_reruns_tasks_that_had_finished(client: GraphClient, saver: Any) -> None:
    """From a checkpoint whose task completed before, the task runs again: a fork and a new step."""
    calls: list[str] = []
    graph = _graph(saver, calls)
    await client.invoke(graph, {"value": []}, CFG)
    original = await _history(client, graph)
    before_b = next(s for s in original if s.next == ("b",))
    calls.clear()
    assert await client.invoke(graph, None, before_b.config) == {"value": ["a", "b"]}
    assert calls == ["b"]
    after = await _history(client, graph)
    assert len(after) == len(original) + 2
    assert _summary(after)[:2] == [("loop", 3, ()), ("fork", 2, ("b",))]


async def test_copy_makes_a_sibling_fork_that_runs_on(client: GraphClient, saver: Any) -> None:
    """``as_node="__copy__"``: the same state and next nodes, the same parent, source "fork"."""
    calls: list[str] = []
    graph = _graph(saver, calls)
    await client.invoke(graph, {"value": []}, CFG)
    history = await _history(client, graph)
    before_b = next(s for s in history if s.next == ("b",))
    copied = await client.update_state(graph, before_b.config, None, as_node="__copy__")
    state = await client.get_state(graph, copied)
    assert state.metadata["source"] == "fork"
    assert state.metadata["step"] == before_b.metadata["step"] + 1
    assert state.values == before_b.values
    assert state.next == ("b",)
    assert state.parent_config == before_b.parent_config
    calls.clear()
    assert await client.invoke(graph, None, copied) == {"value": ["a", "b"]}
    assert calls == ["b"]
    # A copy is a branch already: replaying it saves no second fork.
    assert len(await _history(client, graph)) == len(history) + 2


async def test_copy_with_updates_applies_them_to_the_copy(client: GraphClient, saver: Any) -> None:
    """``__copy__`` with a list of (values, as_node) pairs updates the copy in the same call."""
    graph = _graph(saver, [])
    await client.invoke(graph, {"value": []}, CFG)
    before_b = next(s for s in await _history(client, graph) if s.next == ("b",))
    config = await client.update_state(
        graph, before_b.config, [({"value": ["x"]}, "b")], as_node="__copy__"
    )
    state = await client.get_state(graph, config)
    assert state.metadata["source"] == "update"
    assert state.values == {"value": ["a", "x"]}
    assert state.next == ()
    fork = await client.get_state(graph, state.parent_config)
    assert fork.metadata["source"] == "fork"


async def test_copy_of_an_empty_thread_is_refused(client: GraphClient, saver: Any) -> None:
    graph = _graph(saver, [])
    with pytest.raises(InvalidUpdateError, match="no checkpoint to copy"):
        await client.update_state(graph, CFG, None, as_node="__copy__")
    assert await _history(client, graph) == []


async def test_update_as_input_starts_the_graph_over(client: GraphClient, saver: Any) -> None:
    """``as_node="__input__"``: an input checkpoint; the next run starts from START with it."""
    calls: list[str] = []
    graph = _graph(saver, calls)
    await client.invoke(graph, {"value": []}, CFG)
    config = await client.update_state(graph, CFG, {"value": ["in"]}, as_node="__input__")
    state = await client.get_state(graph, config)
    assert state.next == ("__start__",)
    assert state.metadata["source"] == "input"
    assert state.values == {"value": ["a", "b"]}  # the input is applied when START runs
    calls.clear()
    assert await client.invoke(graph, None, CFG) == {"value": ["a", "b", "in", "a", "b"]}
    assert calls == ["a", "b"]


async def test_update_as_input_needs_values(client: GraphClient, saver: Any) -> None:
    graph = _graph(saver, [])
    await client.invoke(graph, {"value": []}, CFG)
    before = await _history(client, graph)
    with pytest.raises(InvalidUpdateError, match="__input__"):
        await client.update_state(graph, CFG, None, as_node="__input__")
    assert await _history(client, graph) == before


async def test_update_as_end_with_none_drops_the_pending_tasks(
    client: GraphClient, saver: Any
) -> None:
    """``as_node=END`` with ``None``: nothing is next, and the waiting task never runs."""
    calls: list[str] = []
    graph = _graph(saver, calls, ask=True)
    await client.invoke(graph, {"value": []}, CFG)
    config = await client.update_state(graph, CFG, None, as_node=END)
    state = await client.get_state(graph, config)
    assert state.next == ()
    assert state.metadata["source"] == "update"
    assert state.values == {"value": ["a"]}


async def test_update_without_as_node_is_attributed_to_the_last_writer(
    client: GraphClient, saver: Any
) -> None:
    """Without ``as_node`` the node that ran last writes the update, so its edges decide next."""
    graph = _graph(saver, [])
    await client.invoke(graph, {"value": []}, CFG)
    after_a = next(s for s in await _history(client, graph) if s.next == ("b",))
    config = await client.update_state(graph, after_a.config, {"value": ["x"]})
    state = await client.get_state(graph, config)
    assert state.next == ("b",)
    assert state.values == {"value": ["a", "x"]}


async def test_an_update_drops_the_sends_still_pending_as_a_step_does(
    client: GraphClient, saver: Any
) -> None:
    """Updating as the node whose edge sent: its edge runs again on the new state; the Sends
    it made before are dropped (an update is a step), so only what it sends now is next."""
    from threadloom.types import Send

    builder = StateGraph(State)
    builder.add_node("plan", lambda s: {"value": ["go"]})
    builder.add_node("work", lambda arg: {"value": [f"did {arg}"]})
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", lambda s: [Send("work", v) for v in s["value"][-1:] if v == "go"])
    graph = builder.compile(checkpointer=saver, interrupt_before=["work"])
    await client.invoke(graph, {"value": []}, CFG)
    assert (await client.get_state(graph, CFG)).next == ("work",)
    config = await client.update_state(graph, CFG, {"value": ["stop"]})
    state = await client.get_state(graph, config)
    assert state.next == ()
    assert state.values == {"value": ["go", "stop"]}
    assert await client.invoke(graph, None, CFG) == {"value": ["go", "stop"]}


async def test_update_without_as_node_after_parallel_nodes_is_ambiguous(
    client: GraphClient, saver: Any
) -> None:
    builder = StateGraph(State)
    builder.add_node("left", lambda s: {"value": ["l"]})
    builder.add_node("right", lambda s: {"value": ["r"]})
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    graph = builder.compile(checkpointer=saver)
    await client.invoke(graph, {"value": []}, CFG)
    before = await _history(client, graph)
    with pytest.raises(InvalidUpdateError, match="left, right"):
        await client.update_state(graph, CFG, {"value": ["x"]})
    assert await _history(client, graph) == before
    await client.update_state(graph, CFG, {"value": ["x"]}, as_node="left")


async def test_update_is_kept_as_the_result_of_the_task_it_stands_for(
    client: GraphClient, saver: Any
) -> None:
    """The updated checkpoint shows the update as its waiting task's result, as LangGraph's does."""
    graph = _graph(saver, [], ask=True)
    await client.invoke(graph, {"value": []}, CFG)
    paused = await client.get_state(graph, CFG)
    await client.update_state(graph, CFG, {"value": ["typed"]}, as_node="ask")
    again = await client.get_state(graph, paused.config)
    assert [(t.name, t.result) for t in again.tasks] == [("ask", {"value": ["typed"]})]
    assert (await client.get_state(graph, CFG)).next == ("b",)


class Trail(TypedDict):
    trail: Annotated[list[str], operator.add]


async def test_replay_gives_a_stateful_subgraph_its_state_from_that_point(
    client: GraphClient, saver: Any
) -> None:
    """On a replay, a ``checkpointer=True`` subgraph starts from the state it had before the
    replayed checkpoint, not from what later turns added; a later call in the run is normal."""
    seen: list[list[str]] = []

    def remember(state: Trail) -> dict:
        seen.append(list(state["trail"]))
        return {"trail": ["s"]}

    sub = StateGraph(Trail)
    sub.add_node("remember", remember)
    sub.add_edge(START, "remember")
    builder = StateGraph(State)
    builder.add_node("prep", lambda s: {"value": ["p"]})
    builder.add_node("sub_node", sub.compile(checkpointer=True))
    builder.add_edge(START, "prep")
    builder.add_edge("prep", "sub_node")
    graph = builder.compile(checkpointer=saver)
    await client.invoke(graph, {"value": []}, CFG)
    await client.invoke(graph, {"value": []}, CFG)
    assert seen == [[], ["s"]]
    history = await _history(client, graph)
    second_turn_branch = next(s for s in history if s.next == ("sub_node",))
    first_turn_branch = [s for s in history if s.next == ("sub_node",)][-1]
    seen.clear()
    await client.invoke(graph, None, second_turn_branch.config)
    await client.invoke(graph, None, first_turn_branch.config)
    # The subgraph's trail as it was at each branch point, not its latest ["s", "s"].
    assert seen == [["s"], []]
    seen.clear()
    await client.invoke(graph, {"value": []}, CFG)  # a normal turn: the latest state again
    assert seen == [["s"]]
