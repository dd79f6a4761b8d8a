"""``DeltaChannel``: a reducer that folds each step's writes in one call, across turns and files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from typing_extensions import TypedDict

from threadloom.channels import DeltaChannel
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import InvalidUpdateError
from threadloom.graph import START, StateGraph
from threadloom.types import Overwrite


def extend(state: list, writes: list) -> list:
    """A batching-invariant reducer: append every written list."""
    return state + [x for w in writes for x in w]


def merge(state: dict, writes: list) -> dict:
    return {**state, **{k: v for w in writes for k, v in w.items()}}


def total(state: int, writes: list) -> int:
    return state + sum(writes)


class Scores(TypedDict):
    scores: Annotated[dict[str, int], DeltaChannel(merge)]


class Count(TypedDict):
    n: Annotated[int, DeltaChannel(total)]


class Log(TypedDict):
    items: Annotated[list[str], DeltaChannel(extend, snapshot_frequency=4)]


def _graph() -> StateGraph:
    builder = StateGraph(Log)
    builder.add_node("note", lambda s: {"items": [f"seen {len(s['items'])}"]})
    builder.add_edge(START, "note")
    return builder


def test_updates_fold_in_one_reducer_call_and_overwrite_resets() -> None:
    """A step's writes reach the reducer as one batch; an Overwrite replaces the value."""
    calls: list[list] = []

    def reducer(state: list, writes: list) -> list:
        calls.append(list(writes))
        return extend(state, writes)

    channel = DeltaChannel(reducer, list, key="items")
    channel.update([["a"], ["b"]])
    assert channel.get() == ["a", "b"] and calls == [[["a"], ["b"]]]
    channel.update([Overwrite(["z"])])
    assert channel.get() == ["z"]
    with pytest.raises(InvalidUpdateError, match="only one Overwrite"):
        channel.update([Overwrite([]), Overwrite([])])


def test_snapshot_frequency_must_be_positive() -> None:
    """A zero or negative cadence is refused."""
    with pytest.raises(ValueError, match="snapshot_frequency must be a positive int"):
        DeltaChannel(extend, snapshot_frequency=0)


def test_the_key_type_replaces_the_channel_type() -> None:
    """``Annotated[dict, DeltaChannel(f)]`` starts from an empty dict."""

    builder = StateGraph(Scores).add_node("a", lambda s: {"scores": {"x": 1}}).add_edge(START, "a")
    assert builder.compile().invoke({"scores": {"y": 2}}) == {"scores": {"y": 2, "x": 1}}


def test_a_thread_reads_back_the_same_value_from_a_fresh_saver(tmp_path: Path) -> None:
    """Turn after turn the key grows; a fresh saver on the file reads the same list and history."""
    path = str(tmp_path / "t.db")
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(path) as saver:
        graph = _graph().compile(checkpointer=saver)
        for turn in range(6):
            graph.invoke({"items": [f"turn {turn}"]}, config)
        live = graph.get_state(config).values["items"]
    assert len(live) == 12 and live[:2] == ["turn 0", "seen 1"]
    with SqliteSaver.from_conn_string(path) as saver:
        graph = _graph().compile(checkpointer=saver)
        assert graph.get_state(config).values["items"] == live
        history = list(graph.get_state_history(config))
        oldest_with_items = [h for h in history if h.values.get("items")][-1]
        assert oldest_with_items.values["items"] == ["turn 0"]


def test_time_travel_continues_from_the_past_value(tmp_path: Path) -> None:
    """Resuming from an earlier checkpoint does not see the later turns' writes."""
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(str(tmp_path / "t.db")) as saver:
        graph = _graph().compile(checkpointer=saver)
        graph.invoke({"items": ["one"]}, config)
        first = graph.get_state(config).config
        graph.invoke({"items": ["two"]}, config)
        forked = graph.invoke({"items": ["again"]}, first)
    assert forked["items"] == ["one", "seen 1", "again", "seen 3"]


def test_an_overwrite_survives_a_reopen(tmp_path: Path) -> None:
    """After an Overwrite the stored value is the new one, and later turns fold onto it."""
    builder = StateGraph(Log)
    builder.add_node(
        "note",
        lambda s: {"items": Overwrite(["reset"])} if len(s["items"]) > 3 else {"items": ["x"]},
    )
    builder.add_edge(START, "note")
    config = {"configurable": {"thread_id": "t"}}
    path = str(tmp_path / "t.db")
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        for _ in range(3):
            graph.invoke({"items": ["in"]}, config)
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.get_state(config).values["items"] == ["reset"]
        assert graph.invoke({"items": ["in"]}, config)["items"] == ["reset", "in", "x"]
    with SqliteSaver.from_conn_string(path) as saver:
        graph = builder.compile(checkpointer=saver)
        assert graph.get_state(config).values["items"] == ["reset", "in", "x"]


def test_sums_work_as_well_as_lists() -> None:
    """Any batching-invariant reducer fits, e.g. a running total."""

    builder = StateGraph(Count)
    builder.add_node("a", lambda s: {"n": 2})
    builder.add_node("b", lambda s: {"n": 3})
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    assert builder.compile().invoke({"n": 1}) == {"n": 6}


def test_replay_writes_rebuilds_the_value_from_a_seed_and_saved_writes() -> None:
    """``replay_writes`` applies ``(task_id, channel, value)`` writes in order on top of the
    value the channel was restored with (``None`` included); an ``Overwrite`` among them
    replaces what came before."""
    from threadloom.types import Overwrite

    def extend(state: list, writes: list) -> list:
        return [*state, *(x for w in writes for x in w)]

    channel = DeltaChannel(extend, list).from_checkpoint(["seed"])
    channel.replay_writes([("t0", "k", ["a"]), ("t1", "k", ["b"])])
    assert channel.get() == ["seed", "a", "b"]
    channel.replay_writes([("t2", "k", Overwrite(["x"])), ("t3", "k", ["y"])])
    assert channel.get() == ["x", "y"]
    channel.replay_writes([])
    assert channel.get() == ["x", "y"]

    def last(state: object, writes: list) -> object:
        return writes[-1] if writes else state

    from_none = DeltaChannel(last, list).from_checkpoint(None)
    from_none.replay_writes([("t0", "k", "after")])
    assert from_none.get() == "after"
