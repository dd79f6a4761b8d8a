"""The checkpoint format the engine writes, and LangGraph's pending sends migration left out of it."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.serde.types import TASKS
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.graph import START, StateGraph
from threadloom.types import Send


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def fan_out(saver: Any) -> Any:
    """``plan`` sends one packet per worker: the step after it runs the ``Send`` tasks."""
    builder = StateGraph(State)
    builder.add_node("plan", lambda state: {"log": ["plan"]})
    builder.add_node("work", lambda arg: {"log": [f"w{arg['i']}"]})
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", lambda state: [Send("work", {"i": i}) for i in range(2)])
    return builder.compile(checkpointer=saver)


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
    else:
        with SqliteSaver.from_conn_string(tmp_path / "threads.db") as sqlite_saver:
            yield sqlite_saver


def test_the_engine_writes_format_4_and_its_sends_are_never_migrated(saver: Any) -> None:
    """Every checkpoint of a run with ``Send`` packets is of format 4 and keeps its own values:
    even a write to LangGraph's ``TASKS`` channel on a parent is not attached to its child."""
    graph = fan_out(saver)
    config = {"configurable": {"thread_id": "t"}}
    assert graph.invoke({"log": []}, config)["log"] == ["plan", "w0", "w1"]
    history = list(saver.list(config))
    assert len(history) > 2 and {item.checkpoint["v"] for item in history} == {4}
    oldest = history[-1]
    saver.put_writes(oldest.config, [(TASKS, "not a send of this engine")], "foreign-task")
    child = next(item for item in history if item.parent_config == oldest.config)
    reread = saver.get_tuple(child.config)
    assert reread is not None
    assert TASKS not in reread.checkpoint["channel_values"]
    assert reread.checkpoint["channel_versions"] == child.checkpoint["channel_versions"]
    assert all(TASKS not in item.checkpoint["channel_values"] for item in saver.list(config))
    assert graph.get_state(config).values["log"] == ["plan", "w0", "w1"]
